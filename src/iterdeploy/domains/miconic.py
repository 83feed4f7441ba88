"""Miconic problems: passengers wait on random floors for rides to other floors.

Floors f1..fn are totally ordered by `above`; the lift starts on a random floor.
"""

from __future__ import annotations

import random

from iterdeploy.domains.base import Domain, Params, ladder, numbered, write_problem

LADDER = ladder(
    passengers=[(1, 1), (1, 2), (2, 2), (2, 3), (3, 4), (4, 5), (5, 7), (6, 10), (8, 14), (10, 20)],
    floors=[(2, 4), (2, 4), (3, 4), (4, 5), (4, 6), (5, 8), (6, 10), (8, 14), (10, 20), (15, 30)],
)


def check(params: Params) -> str | None:
    """Return why `params` is impossible, or None."""
    if params["passengers"] < 1:
        return "passengers must be >= 1"
    if params["floors"] < 2:
        return "floors must be >= 2 (a passenger needs another floor to go to)"
    return None


def generate(rng: random.Random, params: Params, name: str) -> str:
    """Return a Miconic problem."""
    passengers = numbered("p", params["passengers"])
    floors = numbered("f", params["floors"])
    init = [f"(lift-at {rng.choice(floors)})"]
    for person in passengers:
        origin, destin = rng.sample(floors, 2)
        init += [f"(origin {person} {origin})", f"(destin {person} {destin})"]
    init += [f"(above {low} {high})" for i, low in enumerate(floors) for high in floors[i + 1 :]]
    return write_problem(
        name,
        "miconic",
        [("passenger", passengers), ("floor", floors)],
        init,
        [f"(served {person})" for person in passengers],
        comment=[f"passengers={params['passengers']}, floors={params['floors']}"],
    )


MICONIC = Domain(
    name="miconic",
    generator=generate,
    check=check,
    ladder=LADDER,
    source="ipc2023-learning/miconic",
    description="an elevator carries passengers to their destination floors",
)
