"""Childsnack problems: serve every waiting child a sandwich; allergic children need gluten-free.

There is one bread and one content portion per child; `allergic` of each are gluten-free, so
every allergic child can get a gluten-free sandwich. Children wait at three tables; all trays
start in the kitchen.
"""

from __future__ import annotations

import random

from iterdeploy.domains.base import Domain, Params, ladder, numbered, write_problem

TABLES = ("table1", "table2", "table3")

LADDER = ladder(
    children=[(1, 1), (1, 2), (2, 2), (2, 3), (3, 4), (3, 5), (4, 6), (5, 7), (5, 8), (6, 10)],
    allergic=[(0, 1), (0, 1), (0, 1), (1, 1), (1, 2), (1, 2), (1, 3), (2, 3), (2, 4), (2, 5)],
    trays=[(1, 1), (1, 1), (1, 1), (1, 2), (1, 2), (1, 2), (1, 2), (1, 3), (2, 3), (2, 3)],
    sandwiches=[(1, 2), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 8), (7, 9), (8, 10), (10, 12)],
)


def check(params: Params) -> str | None:
    """Return why `params` is impossible, or None."""
    if params["children"] < 1 or params["trays"] < 1:
        return "children and trays must be >= 1"
    if params["allergic"] > params["children"]:
        return "allergic must be <= children"
    if params["sandwiches"] < params["children"]:
        return "sandwiches must be >= children (each child eats one)"
    return None


def generate(rng: random.Random, params: Params, name: str) -> str:
    """Return a Childsnack problem."""
    children = numbered("child", params["children"])
    trays = numbered("tray", params["trays"])
    sandwiches = numbered("sandw", params["sandwiches"])
    breads = numbered("bread", params["children"])
    contents = numbered("content", params["children"])
    allergic = set(rng.sample(children, params["allergic"]))
    init = [f"(at {tray} kitchen)" for tray in trays]
    init += [f"(at_kitchen_bread {bread})" for bread in breads]
    init += [f"(at_kitchen_content {content})" for content in contents]
    init += [f"(no_gluten_bread {b})" for b in sorted(rng.sample(breads, len(allergic)))]
    init += [f"(no_gluten_content {c})" for c in sorted(rng.sample(contents, len(allergic)))]
    for child in children:
        kind = "allergic_gluten" if child in allergic else "not_allergic_gluten"
        init += [f"({kind} {child})", f"(waiting {child} {rng.choice(TABLES)})"]
    init += [f"(notexist {sandwich})" for sandwich in sandwiches]
    return write_problem(
        name,
        "childsnack",
        [
            ("child", children),
            ("tray", trays),
            ("sandwich", sandwiches),
            ("bread-portion", breads),
            ("content-portion", contents),
            ("place", list(TABLES)),
        ],
        init,
        [f"(served {child})" for child in children],
        comment=[", ".join(f"{key}={params[key]}" for key in LADDER[0])],
    )


CHILDSNACK = Domain(
    name="childsnack",
    generator=generate,
    check=check,
    ladder=LADDER,
    source="ipc2023-learning/childsnack",
    description="make sandwiches and serve waiting children; allergic ones need gluten-free",
)
