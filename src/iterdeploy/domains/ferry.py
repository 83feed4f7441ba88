"""Ferry problems: cars at random locations, each with a different goal location.

The ferry starts at a random location and carries one car at a time.
"""

from __future__ import annotations

import random

from iterdeploy.domains.base import Domain, Params, ladder, numbered, write_problem

LADDER = ladder(
    cars=[(1, 1), (1, 2), (2, 2), (2, 3), (3, 4), (4, 6), (5, 8), (6, 10), (8, 14), (10, 20)],
    locations=[(2, 4), (2, 4), (3, 4), (3, 4), (4, 5), (5, 6), (5, 8), (6, 10), (8, 12), (10, 15)],
)


def check(params: Params) -> str | None:
    """Return why `params` is impossible, or None."""
    if params["cars"] < 1:
        return "cars must be >= 1"
    if params["locations"] < 2:
        return "locations must be >= 2 (a car needs somewhere else to go)"
    return None


def generate(rng: random.Random, params: Params, name: str) -> str:
    """Return a Ferry problem."""
    cars = numbered("car", params["cars"])
    locations = numbered("loc", params["locations"])
    init = ["(empty-ferry)", f"(at-ferry {rng.choice(locations)})"]
    goal = []
    for car in cars:
        start = rng.choice(locations)
        target = rng.choice([loc for loc in locations if loc != start])
        init.append(f"(at {car} {start})")
        goal.append(f"(at {car} {target})")
    return write_problem(
        name,
        "ferry",
        [("car", cars), ("location", locations)],
        init,
        goal,
        comment=[f"cars={params['cars']}, locations={params['locations']}"],
    )


FERRY = Domain(
    name="ferry",
    generator=generate,
    check=check,
    ladder=LADDER,
    source="ipc2023-learning/ferry",
    description="a one-car ferry moves cars to their goal locations",
)
