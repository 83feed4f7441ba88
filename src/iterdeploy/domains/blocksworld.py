"""Blocksworld problems: random initial and goal towers over n blocks.

A configuration is drawn by shuffling the blocks and cutting the sequence into towers at random
points. The goal lists every `on` and `on-table` atom of the goal configuration; a goal equal to
the initial configuration is redrawn, so no task is solved by the empty plan.
"""

from __future__ import annotations

import random
from itertools import pairwise

from iterdeploy.domains.base import Domain, Params, ladder, numbered, write_problem

LADDER = ladder(
    blocks=[(2, 3), (3, 4), (4, 5), (5, 6), (6, 8), (8, 10), (11, 14), (15, 19), (20, 26), (27, 35)]
)


def check(params: Params) -> str | None:
    """Return why `params` is impossible, or None."""
    if params["blocks"] < 2:
        return "blocks must be >= 2 (one block has no non-trivial goal)"
    return None


def random_towers(rng: random.Random, blocks: list[str]) -> list[list[str]]:
    """Return towers (bottom first) from a random order of `blocks` cut at random points."""
    order = list(blocks)
    rng.shuffle(order)
    towers: list[list[str]] = [[order[0]]]
    for block in order[1:]:
        if rng.random() < 0.5:
            towers[-1].append(block)
        else:
            towers.append([block])
    return towers


def tower_atoms(towers: list[list[str]]) -> list[str]:
    """Return the on-table and on atoms of `towers`, sorted."""
    atoms = []
    for tower in towers:
        atoms.append(f"(on-table {tower[0]})")
        atoms += [f"(on {upper} {lower})" for lower, upper in pairwise(tower)]
    return sorted(atoms)


def generate(rng: random.Random, params: Params, name: str) -> str:
    """Return a Blocksworld problem with `params["blocks"]` blocks."""
    blocks = numbered("b", params["blocks"])
    start = random_towers(rng, blocks)
    goal = random_towers(rng, blocks)
    while tower_atoms(goal) == tower_atoms(start):
        goal = random_towers(rng, blocks)
    init = ["(arm-empty)"] + tower_atoms(start) + sorted(f"(clear {t[-1]})" for t in start)
    return write_problem(
        name,
        "blocksworld",
        [("", blocks)],
        init,
        tower_atoms(goal),
        comment=[f"blocks={params['blocks']}"],
    )


BLOCKSWORLD = Domain(
    name="blocksworld",
    generator=generate,
    check=check,
    ladder=LADDER,
    source="ipc2023-learning/blocksworld",
    description="stack blocks into goal towers with one arm (4 operators)",
)
