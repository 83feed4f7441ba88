"""Rovers problems: collect soil, rock and image data and send it to the lander.

Solvable by construction: waypoints are joined by a random spanning tree that every rover may
traverse (plus random extra links), so every rover reaches every waypoint and a waypoint in view
of the lander; every goal kind has an equipped rover, every mode a camera, and every objective a
waypoint it is visible from.
"""

from __future__ import annotations

import random

from iterdeploy.domains.base import (
    Domain,
    Params,
    ladder,
    numbered,
    random_tree_edges,
    write_problem,
)

MODES = ("colour", "high_res", "low_res")

LADDER = ladder(
    rovers=[(1, 1), (1, 1), (1, 2), (1, 2), (1, 3), (2, 3), (2, 4), (3, 4), (3, 5), (4, 5)],
    waypoints=[
        (2, 2),
        (2, 3),
        (3, 4),
        (4, 5),
        (4, 6),
        (5, 8),
        (6, 10),
        (8, 12),
        (10, 14),
        (12, 15),
    ],
    cameras=[(0, 0), (0, 1), (1, 1), (1, 2), (1, 2), (1, 3), (2, 4), (2, 4), (3, 5), (4, 5)],
    objectives=[(1, 1), (1, 1), (1, 2), (1, 3), (2, 4), (2, 5), (3, 7), (4, 10), (6, 12), (8, 15)],
    goals=[(1, 1), (1, 2), (2, 2), (2, 3), (3, 4), (3, 5), (4, 6), (5, 8), (6, 10), (8, 12)],
)


def check(params: Params) -> str | None:
    """Return why `params` is impossible, or None."""
    if min(params["rovers"], params["objectives"], params["goals"]) < 1:
        return "rovers, objectives and goals must be >= 1"
    if params["waypoints"] < 2:
        return "waypoints must be >= 2 (data is sent from a waypoint in view of the lander)"
    images = len(MODES) * params["objectives"] if params["cameras"] else 0
    if params["goals"] > 2 * params["waypoints"] + images:
        return (
            "goals must be <= 2 * waypoints (+ 3 * objectives with cameras): "
            "each goal is a distinct soil, rock or image datum"
        )
    return None


def generate(rng: random.Random, params: Params, name: str) -> str:
    """Return a Rovers problem."""
    rovers = numbered("rover", params["rovers"])
    waypoints = numbered("waypoint", params["waypoints"])
    cameras = numbered("camera", params["cameras"])
    objectives = numbered("objective", params["objectives"])
    stores = [f"{rover}store" for rover in rovers]

    goal_atoms = pick_goals(rng, params, waypoints, objectives)
    kinds = {atom.split("_")[1] for atom in goal_atoms}  # soil, rock, image
    camera_rovers = [rng.choice(rovers) for _ in cameras]
    init = [f"(at_lander general {rng.choice(waypoints)})"]
    init += waypoint_links(rng, rovers, waypoints)
    for rover, store in zip(rovers, stores, strict=True):
        init += [f"(at {rover} {rng.choice(waypoints)})", f"(empty {store})"]
        init.append(f"(store_of {store} {rover})")
    init += equipment(rng, rovers, kinds, set(camera_rovers))
    for k, (camera, rover) in enumerate(zip(cameras, camera_rovers, strict=True)):
        supported = {MODES[k % len(MODES)]} | {m for m in MODES if rng.random() < 0.5}
        if k == 0:
            supported = set(MODES)  # one camera covers every mode an image goal may ask for
        init += [f"(on_board {camera} {rover})"]
        init += [f"(calibration_target {camera} {rng.choice(objectives)})"]
        init += [f"(supports {camera} {mode})" for mode in sorted(supported)]
    soil = {a.split()[1].rstrip(")") for a in goal_atoms if "soil" in a}
    rock = {a.split()[1].rstrip(")") for a in goal_atoms if "rock" in a}
    for waypoint in waypoints:
        if waypoint in soil or rng.random() < 0.3:
            init.append(f"(at_soil_sample {waypoint})")
        if waypoint in rock or rng.random() < 0.3:
            init.append(f"(at_rock_sample {waypoint})")
    for objective in objectives:
        seen = {rng.choice(waypoints)} | {w for w in waypoints if rng.random() < 0.25}
        init += [f"(visible_from {objective} {w})" for w in sorted(seen)]
    return write_problem(
        name,
        "rover",
        [
            ("lander", ["general"]),
            ("mode", list(MODES)),
            ("rover", rovers),
            ("store", stores),
            ("waypoint", waypoints),
            ("camera", cameras),
            ("objective", objectives),
        ],
        init,
        goal_atoms,
        comment=[", ".join(f"{key}={params[key]}" for key in LADDER[0])],
    )


def pick_goals(
    rng: random.Random, params: Params, waypoints: list[str], objectives: list[str]
) -> list[str]:
    """Return `goals` distinct data goals (soil, rock, and image goals when there are cameras)."""
    candidates = [f"(communicated_soil_data {w})" for w in waypoints]
    candidates += [f"(communicated_rock_data {w})" for w in waypoints]
    if params["cameras"]:
        candidates += [f"(communicated_image_data {o} {m})" for o in objectives for m in MODES]
    return sorted(rng.sample(candidates, params["goals"]))


def waypoint_links(rng: random.Random, rovers: list[str], waypoints: list[str]) -> list[str]:
    """Return visible and can_traverse atoms: a shared spanning tree plus random extra links."""
    tree = set(random_tree_edges(rng, len(waypoints)))
    pairs = [(i, j) for i in range(len(waypoints)) for j in range(i + 1, len(waypoints))]
    visible = [edge for edge in pairs if edge in tree or rng.random() < 0.3]
    atoms = []
    for i, j in visible:
        a, b = waypoints[i], waypoints[j]
        atoms += [f"(visible {a} {b})", f"(visible {b} {a})"]
    for rover in rovers:
        for i, j in visible:
            if (i, j) in tree or rng.random() < 0.5:
                a, b = waypoints[i], waypoints[j]
                atoms += [f"(can_traverse {rover} {a} {b})", f"(can_traverse {rover} {b} {a})"]
    return atoms


def equipment(
    rng: random.Random, rovers: list[str], kinds: set[str], imaging: set[str]
) -> list[str]:
    """Return equipped_for_* atoms: random, but every needed kind has at least one rover."""
    atoms = []
    for kind in ("soil", "rock"):
        equipped = {r for r in rovers if rng.random() < 0.5}
        if kind in kinds and not equipped:
            equipped.add(rng.choice(rovers))
        atoms += [f"(equipped_for_{kind}_analysis {r})" for r in sorted(equipped)]
    atoms += [f"(equipped_for_imaging {r})" for r in sorted(imaging)]
    return atoms


ROVERS = Domain(
    name="rovers",
    generator=generate,
    check=check,
    ladder=LADDER,
    source="ipc2023-learning/rovers",
    description="rovers sample soil and rock, take images and send the data to a lander",
)
