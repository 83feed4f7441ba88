"""Gripper problems (prompt examples): a two-handed robot moves balls between rooms.

Balls start in random rooms and each must reach a different random room. With two rooms this
is the classic IPC-1998 task family.
"""

from __future__ import annotations

import random

from iterdeploy.domains.base import Domain, Params, ladder, numbered, write_problem

GRIPPERS = ("left", "right")

LADDER = ladder(
    balls=[(1, 1), (1, 2), (2, 3), (3, 4), (4, 6), (6, 8), (8, 10), (10, 14), (12, 18), (16, 24)],
    rooms=[(2, 3), (2, 3), (2, 3), (2, 3), (2, 3), (2, 3), (2, 4), (3, 4), (3, 5), (3, 5)],
)


def check(params: Params) -> str | None:
    """Return why `params` is impossible, or None."""
    if params["balls"] < 1:
        return "balls must be >= 1"
    if params["rooms"] < 2:
        return "rooms must be >= 2 (a ball needs another room to go to)"
    return None


def generate(rng: random.Random, params: Params, name: str) -> str:
    """Return a Gripper problem."""
    balls = numbered("ball", params["balls"])
    rooms = numbered("room", params["rooms"])
    init = [f"(room {room})" for room in rooms] + [f"(ball {ball})" for ball in balls]
    init += [f"(gripper {hand})" for hand in GRIPPERS] + [f"(free {hand})" for hand in GRIPPERS]
    init.append(f"(at-robby {rng.choice(rooms)})")
    goal = []
    for ball in balls:
        start, target = rng.sample(rooms, 2)
        init.append(f"(at {ball} {start})")
        goal.append(f"(at {ball} {target})")
    return write_problem(
        name,
        "gripper-strips",
        [("", rooms + balls + list(GRIPPERS))],
        init,
        goal,
        comment=[f"balls={params['balls']}, rooms={params['rooms']}"],
    )


GRIPPER = Domain(
    name="gripper",
    generator=generate,
    check=check,
    ladder=LADDER,
    source="ipc-classic/gripper",
    description="a two-handed robot carries balls between rooms",
)
