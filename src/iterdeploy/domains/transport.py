"""Transport problems: vehicles with a capacity carry packages over a random road network.

Roads form a random connected graph (a spanning tree plus extra edges), both directions.
Capacity is a chain of sizes c0 < c1 < ... < cK; every vehicle starts empty (capacity cK).
"""

from __future__ import annotations

import random
from itertools import pairwise

from iterdeploy.domains.base import (
    Domain,
    Params,
    ladder,
    numbered,
    random_connected_edges,
    write_problem,
)

LADDER = ladder(
    vehicles=[(1, 1), (1, 1), (1, 2), (1, 2), (2, 3), (2, 3), (3, 4), (3, 5), (4, 6), (5, 8)],
    packages=[(1, 1), (1, 2), (2, 2), (2, 3), (3, 4), (4, 6), (5, 8), (6, 10), (8, 12), (10, 15)],
    locations=[
        (2, 4),
        (2, 4),
        (3, 4),
        (4, 5),
        (5, 6),
        (5, 8),
        (6, 10),
        (8, 12),
        (10, 15),
        (12, 20),
    ],
    capacity=[(1, 1), (1, 2), (1, 2), (2, 2), (2, 2), (2, 3), (2, 3), (2, 4), (2, 4), (3, 4)],
)


def check(params: Params) -> str | None:
    """Return why `params` is impossible, or None."""
    if min(params["vehicles"], params["packages"], params["capacity"]) < 1:
        return "vehicles, packages and capacity must be >= 1"
    if params["locations"] < 2:
        return "locations must be >= 2 (a package needs somewhere else to go)"
    return None


def generate(rng: random.Random, params: Params, name: str) -> str:
    """Return a Transport problem."""
    vehicles = numbered("v", params["vehicles"])
    packages = numbered("p", params["packages"])
    locations = numbered("l", params["locations"])
    sizes = numbered("c", params["capacity"] + 1, start=0)
    init = [f"(capacity-predecessor {a} {b})" for a, b in pairwise(sizes)]
    for i, j in random_connected_edges(rng, len(locations), extra=0.2):
        init += [f"(road {locations[i]} {locations[j]})", f"(road {locations[j]} {locations[i]})"]
    for vehicle in vehicles:
        init += [f"(at {vehicle} {rng.choice(locations)})", f"(capacity {vehicle} {sizes[-1]})"]
    goal = []
    for package in packages:
        start, target = rng.sample(locations, 2)
        init.append(f"(at {package} {start})")
        goal.append(f"(at {package} {target})")
    return write_problem(
        name,
        "transport",
        [("vehicle", vehicles), ("package", packages), ("location", locations), ("size", sizes)],
        init,
        goal,
        comment=[", ".join(f"{key}={params[key]}" for key in LADDER[0])],
    )


TRANSPORT = Domain(
    name="transport",
    generator=generate,
    check=check,
    ladder=LADDER,
    source="ipc2023-learning/transport",
    description="capacity-limited vehicles carry packages over a road network",
)
