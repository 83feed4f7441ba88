"""Floortile problems: paint rows 1..r of a grid in a checkerboard; row 0 stays unpainted.

Tiles are named tile_<row>_<column>, row 0 at the bottom. Robots start on distinct random
tiles, each holding a random colour; white and black are both available.
"""

from __future__ import annotations

import random

from iterdeploy.domains.base import Domain, Params, ladder, write_problem

COLORS = ("white", "black")

# Capped at 3 x 4 tiles: beyond that lama-first often finds no plan within a minute (painting
# in the wrong order leads to dead ends), so the ladder ends near the IPC training-easy start.
LADDER = ladder(
    rows=[(1, 1), (1, 1), (1, 2), (2, 2), (2, 2), (2, 3), (2, 3), (3, 3), (3, 3), (3, 3)],
    columns=[(1, 2), (1, 2), (2, 2), (2, 2), (2, 3), (2, 3), (3, 3), (3, 3), (3, 4), (3, 4)],
    robots=[(1, 1), (1, 1), (1, 1), (1, 1), (1, 2), (1, 2), (1, 2), (1, 2), (1, 2), (2, 2)],
)


def check(params: Params) -> str | None:
    """Return why `params` is impossible, or None."""
    if min(params["rows"], params["columns"], params["robots"]) < 1:
        return "rows, columns and robots must be >= 1"
    if params["robots"] > params["columns"]:
        return "robots must be <= columns (the robots need room to leave the painted rows)"
    return None


def tile(row: int, column: int) -> str:
    """Return the object name of the tile at (row, column)."""
    return f"tile_{row}_{column}"


def generate(rng: random.Random, params: Params, name: str) -> str:
    """Return a Floortile problem."""
    rows, columns = params["rows"], params["columns"]
    cells = [(r, c) for r in range(rows + 1) for c in range(1, columns + 1)]
    robots = [f"robot{i}" for i in range(1, params["robots"] + 1)]
    occupied = rng.sample(cells, len(robots))
    init = []
    for robot, (r, c) in zip(robots, occupied, strict=True):
        init += [f"(robot-at {robot} {tile(r, c)})", f"(robot-has {robot} {rng.choice(COLORS)})"]
    init += [f"(available-color {color})" for color in COLORS]
    init += [f"(clear {tile(r, c)})" for r, c in cells if (r, c) not in occupied]
    init += [f"(up {tile(r + 1, c)} {tile(r, c)})" for r, c in cells if r < rows]
    init += [f"(down {tile(r, c)} {tile(r + 1, c)})" for r, c in cells if r < rows]
    init += [f"(right {tile(r, c + 1)} {tile(r, c)})" for r, c in cells if c < columns]
    init += [f"(left {tile(r, c)} {tile(r, c + 1)})" for r, c in cells if c < columns]
    goal = [f"(painted {tile(r, c)} {COLORS[(r + c) % 2]})" for r, c in cells if r > 0]
    return write_problem(
        name,
        "floortile",
        [("tile", [tile(r, c) for r, c in cells]), ("robot", robots), ("color", list(COLORS))],
        init,
        goal,
        comment=[f"rows={rows}, columns={columns}, robots={params['robots']}"],
    )


FLOORTILE = Domain(
    name="floortile",
    generator=generate,
    check=check,
    ladder=LADDER,
    source="ipc2023-learning/floortile",
    description="robots paint a grid of tiles in a checkerboard pattern",
)
