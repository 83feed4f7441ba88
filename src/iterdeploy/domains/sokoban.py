"""Sokoban problems, solvable by construction: reverse pulls from a solved state.

A `grid` x `grid` board (border walls included) gets up to `walls` inner walls that keep the
floor connected. Boxes start on their goal cells; a random walk of the robot then pulls boxes
(the reverse of a push) until `pulls` pulls are done, then walks 1-3 free steps away. Reversing
that walk solves the puzzle, so no task is dead; a walk that leaves every box on its goal is
redrawn.
"""

from __future__ import annotations

import random

from iterdeploy.domains.base import Domain, Params, ladder, write_problem
from iterdeploy.errors import ConfigError

Cell = tuple[int, int]

# direction constant -> (row step, column step); rows grow downwards as in the IPC files
DIRECTIONS = {"down": (1, 0), "left": (0, -1), "right": (0, 1), "up": (-1, 0)}

LADDER = ladder(
    grid=[(5, 6), (5, 6), (5, 6), (6, 6), (6, 7), (7, 8), (7, 9), (8, 10), (9, 11), (10, 12)],
    boxes=[(1, 1), (1, 1), (1, 1), (1, 2), (2, 2), (2, 2), (2, 3), (2, 3), (3, 4), (3, 4)],
    walls=[(0, 1), (0, 1), (0, 2), (1, 3), (2, 4), (3, 6), (4, 8), (5, 10), (6, 14), (8, 18)],
    pulls=[(1, 1), (1, 2), (2, 4), (3, 5), (4, 8), (6, 10), (8, 14), (10, 18), (12, 22), (15, 30)],
)

_ATTEMPTS = 50  # boards and walks tried before a parameter set is declared impossible


def check(params: Params) -> str | None:
    """Return why `params` is impossible, or None."""
    if params["grid"] < 5:
        return "grid must be >= 5 (3x3 inner cells: a pull needs three cells in a row)"
    if params["boxes"] < 1 or params["pulls"] < 1:
        return "boxes and pulls must be >= 1"
    free = (params["grid"] - 2) ** 2 - params["walls"]
    if free < params["boxes"] + 2:
        return (
            f"{params['boxes']} boxes do not fit on {free} free cells "
            "(need boxes + 2: the robot and room to pull)"
        )
    return None


def generate(rng: random.Random, params: Params, name: str) -> str:
    """Return a Sokoban problem whose solution is a reversed random pull walk."""
    inner = [(r, c) for r in range(1, params["grid"] - 1) for c in range(1, params["grid"] - 1)]
    for _ in range(_ATTEMPTS):
        floor = place_walls(rng, inner, params["walls"])
        goals = rng.sample(sorted(floor), params["boxes"])
        robot = rng.choice(sorted(floor - set(goals)))
        robot, boxes = pull_walk(rng, floor, robot, list(goals), params["pulls"])
        if boxes != goals:
            return write_board(name, params, floor, robot, boxes, goals)
    raise ConfigError(
        f"sokoban: no board with {dict(params)} let the robot pull a box off its goal in "
        f"{_ATTEMPTS} tries; use fewer walls or boxes, or a larger grid"
    )


def place_walls(rng: random.Random, inner: list[Cell], walls: int) -> set[Cell]:
    """Return the floor cells left after placing up to `walls` walls that keep it connected."""
    floor = set(inner)
    candidates = list(inner)
    rng.shuffle(candidates)
    placed = 0
    for cell in candidates:
        if placed == walls:
            break
        rest = floor - {cell}
        if is_connected(rest):
            floor, placed = rest, placed + 1
    return floor


def is_connected(cells: set[Cell]) -> bool:
    """Return True when `cells` form one 4-connected region."""
    start = min(cells)
    seen, stack = {start}, [start]
    while stack:
        r, c = stack.pop()
        for dr, dc in DIRECTIONS.values():
            nxt = (r + dr, c + dc)
            if nxt in cells and nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return len(seen) == len(cells)


def pull_walk(
    rng: random.Random, floor: set[Cell], robot: Cell, boxes: list[Cell], pulls: int
) -> tuple[Cell, list[Cell]]:
    """Return the robot cell and box cells after a random walk with `pulls` pulls.

    A pull: the robot at r steps to r + d while the box at r - d follows onto r.
    """
    done = 0
    for _ in range(50 * pulls):
        if done == pulls:
            break
        moves, pulls_here = [], []
        for dr, dc in DIRECTIONS.values():
            ahead, behind = (robot[0] + dr, robot[1] + dc), (robot[0] - dr, robot[1] - dc)
            if ahead in floor and ahead not in boxes:
                moves.append(ahead)
                if behind in boxes:
                    pulls_here.append((ahead, boxes.index(behind)))
        if pulls_here and rng.random() < 0.6:
            ahead, index = rng.choice(pulls_here)
            boxes[index], robot, done = robot, ahead, done + 1
        elif moves:
            robot = rng.choice(moves)
        else:
            break
    # Walk away after the last pull, or the solution would open with a push from where the
    # robot stands (with one pull, every task would be a one-step push).
    for _ in range(rng.randint(1, 3)):
        moves = [
            cell
            for dr, dc in DIRECTIONS.values()
            if (cell := (robot[0] + dr, robot[1] + dc)) in floor and cell not in boxes
        ]
        if moves:
            robot = rng.choice(moves)
    return robot, boxes


def location(cell: Cell) -> str:
    """Return the object name of a cell (1-based, border included, like the IPC files)."""
    return f"loc_{cell[0] + 1}_{cell[1] + 1}"


def write_board(
    name: str, params: Params, floor: set[Cell], robot: Cell, boxes: list[Cell], goals: list[Cell]
) -> str:
    """Return the problem PDDL, with the board drawn in a comment (standard Sokoban symbols)."""
    cells = sorted(floor)
    names = [f"box{i}" for i in range(1, len(boxes) + 1)]
    init = [f"(at-robot {location(robot)})"]
    init += [f"(at {box} {location(cell)})" for box, cell in zip(names, boxes, strict=True)]
    init += [f"(clear {location(cell)})" for cell in cells if cell not in boxes]
    for cell in cells:
        for direction, (dr, dc) in sorted(DIRECTIONS.items()):
            nxt = (cell[0] + dr, cell[1] + dc)
            if nxt in floor:
                init.append(f"(adjacent {location(cell)} {location(nxt)} {direction})")
    goal = [f"(at {box} {location(cell)})" for box, cell in zip(names, goals, strict=True)]
    return write_problem(
        name,
        "sokoban",
        [("location", [location(cell) for cell in cells]), ("box", names)],
        init,
        goal,
        comment=[", ".join(f"{key}={params[key]}" for key in LADDER[0])]
        + draw(params["grid"], floor, robot, boxes, goals),
    )


def draw(grid: int, floor: set[Cell], robot: Cell, boxes: list[Cell], goals: list[Cell]) -> list:
    """Return the board as text rows: # wall, @ robot, $ box, . goal, * box on goal."""
    rows = []
    for r in range(grid):
        row = ""
        for c in range(grid):
            cell = (r, c)
            if cell not in floor:
                row += "#"
            elif cell == robot:
                row += "+" if cell in goals else "@"
            elif cell in boxes:
                row += "*" if cell in goals else "$"
            else:
                row += "." if cell in goals else " "
        rows.append(row)
    return rows


SOKOBAN = Domain(
    name="sokoban",
    generator=generate,
    check=check,
    ladder=LADDER,
    source="ipc2023-learning/sokoban",
    description="a robot pushes boxes onto their goal cells on a walled grid",
    optimal_first=True,  # lama-first is often several times slower than astar(lmcut) here
)
