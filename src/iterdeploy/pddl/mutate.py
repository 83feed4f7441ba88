"""Plan mutations: near-miss negative examples for testing and benchmarking validators.

Each mutation is one of the ways a model's plan goes wrong: a dropped step, two steps in the
wrong order, a wrong argument, a plan stopped early. They are plain functions of a
`random.Random`, so a seed gives the same corpus every time.
"""

from __future__ import annotations

import random

from iterdeploy.pddl.plan import format_step, parse_step

MUTATIONS = ("drop", "swap", "replace-arg", "truncate")


def mutate_plan(
    rng: random.Random, steps: list[str], objects: list[str], kind: str | None = None
) -> tuple[str, list[str]]:
    """Return (kind, mutated copy of `steps`); `kind` is drawn from MUTATIONS when None.

    `replace-arg` swaps one argument for another of `objects` (possibly of the wrong type).
    A plan too short for the mutation is returned with one step dropped, or unchanged if empty.
    """
    kind = kind or rng.choice(MUTATIONS)
    out = list(steps)
    if not out:
        return kind, out
    if kind == "swap" and len(out) >= 2:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    elif kind == "replace-arg" and objects:
        i = rng.randrange(len(out))
        parsed = parse_step(out[i])
        if parsed is not None and parsed[1]:
            name, args = parsed
            j = rng.randrange(len(args))
            choices = [o for o in objects if o != args[j]] or objects
            out[i] = format_step(name, (*args[:j], rng.choice(choices), *args[j + 1 :]))
    elif kind == "truncate":
        del out[rng.randrange(len(out)) :]
    else:
        del out[rng.randrange(len(out))]
    return kind, out
