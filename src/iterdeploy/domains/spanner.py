"""Spanner problems: a one-way path from the shed through n locations to the gate.

Spanners lie at random locations on the path, all nuts are at the gate, and the man starts in
the shed. A spanner works once and the man cannot walk back, so spanners >= nuts is required
and the man must pick up enough spanners on the way.
"""

from __future__ import annotations

import random
from itertools import pairwise

from iterdeploy.domains.base import Domain, Params, ladder, numbered, write_problem

LADDER = ladder(
    spanners=[(1, 2), (1, 2), (2, 2), (2, 3), (3, 4), (4, 5), (5, 7), (6, 9), (8, 12), (10, 16)],
    nuts=[(1, 1), (1, 1), (1, 2), (2, 2), (2, 3), (3, 4), (3, 5), (4, 6), (5, 8), (6, 12)],
    locations=[(1, 2), (1, 2), (2, 3), (3, 4), (3, 5), (4, 6), (5, 8), (6, 10), (8, 12), (10, 15)],
)


def check(params: Params) -> str | None:
    """Return why `params` is impossible, or None."""
    if params["nuts"] < 1 or params["locations"] < 1:
        return "nuts and locations must be >= 1"
    if params["spanners"] < params["nuts"]:
        return "spanners must be >= nuts (each spanner tightens one nut)"
    return None


def generate(rng: random.Random, params: Params, name: str) -> str:
    """Return a Spanner problem."""
    spanners = numbered("spanner", params["spanners"])
    nuts = numbered("nut", params["nuts"])
    path = numbered("location", params["locations"])
    init = ["(at bob shed)"]
    init += [f"(at {spanner} {rng.choice(path)})" for spanner in spanners]
    init += [f"(usable {spanner})" for spanner in spanners]
    init += [f"(at {nut} gate)" for nut in nuts] + [f"(loose {nut})" for nut in nuts]
    route = ["shed", *path, "gate"]
    init += [f"(link {a} {b})" for a, b in pairwise(route)]
    return write_problem(
        name,
        "spanner",
        [("man", ["bob"]), ("spanner", spanners), ("nut", nuts), ("location", route)],
        init,
        [f"(tightened {nut})" for nut in nuts],
        comment=[
            f"spanners={params['spanners']}, nuts={params['nuts']}, locations={params['locations']}"
        ],
    )


SPANNER = Domain(
    name="spanner",
    generator=generate,
    check=check,
    ladder=LADDER,
    source="ipc2023-learning/spanner",
    description="a man collects single-use spanners on a one-way path and tightens nuts",
)
