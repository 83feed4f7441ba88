"""Satellite problems: take images of directions in modes with on-board instruments.

Every satellite carries at least one instrument; instrument k supports mode k mod #modes plus a
random subset, so every mode can be imaged. Each instrument has a random calibration direction.
"""

from __future__ import annotations

import random

from iterdeploy.domains.base import Domain, Params, ladder, numbered, write_problem

LADDER = ladder(
    satellites=[(1, 1), (1, 1), (1, 2), (1, 2), (2, 3), (2, 3), (3, 4), (3, 5), (4, 6), (5, 8)],
    instruments=[(1, 1), (1, 2), (2, 3), (2, 3), (3, 4), (3, 5), (4, 6), (5, 8), (6, 10), (8, 14)],
    modes=[(1, 1), (1, 2), (1, 2), (2, 2), (2, 3), (2, 3), (2, 3), (3, 3), (3, 4), (3, 5)],
    directions=[(2, 3), (2, 3), (3, 4), (3, 5), (4, 6), (5, 7), (6, 8), (6, 10), (8, 12), (10, 15)],
    images=[(1, 1), (1, 2), (2, 2), (2, 3), (3, 4), (3, 5), (4, 6), (5, 8), (6, 10), (8, 12)],
)


def check(params: Params) -> str | None:
    """Return why `params` is impossible, or None."""
    if min(params["satellites"], params["modes"], params["directions"], params["images"]) < 1:
        return "satellites, modes, directions and images must be >= 1"
    if params["instruments"] < params["satellites"]:
        return "instruments must be >= satellites (each satellite carries one)"
    if params["images"] > params["directions"] * params["modes"]:
        return "images must be <= directions * modes (goals are distinct)"
    return None


def generate(rng: random.Random, params: Params, name: str) -> str:
    """Return a Satellite problem."""
    satellites = numbered("sat", params["satellites"])
    instruments = numbered("ins", params["instruments"])
    modes = numbered("mod", params["modes"])
    directions = numbered("dir", params["directions"])
    init = []
    for sat in satellites:
        init += [f"(pointing {sat} {rng.choice(directions)})", f"(power_avail {sat})"]
    for k, ins in enumerate(instruments):
        sat = satellites[k] if k < len(satellites) else rng.choice(satellites)
        supported = {modes[k % len(modes)]} | {m for m in modes if rng.random() < 0.3}
        init += [f"(on_board {ins} {sat})", f"(calibration_target {ins} {rng.choice(directions)})"]
        init += [f"(supports {ins} {mode})" for mode in sorted(supported)]
    pairs = [(d, m) for d in directions for m in modes]
    goal = [f"(have_image {d} {m})" for d, m in sorted(rng.sample(pairs, params["images"]))]
    return write_problem(
        name,
        "satellite",
        [
            ("satellite", satellites),
            ("instrument", instruments),
            ("mode", modes),
            ("direction", directions),
        ],
        init,
        goal,
        comment=[", ".join(f"{key}={params[key]}" for key in LADDER[0])],
    )


SATELLITE = Domain(
    name="satellite",
    generator=generate,
    check=check,
    ladder=LADDER,
    source="ipc2023-learning/satellite",
    description="satellites point, calibrate instruments and take images in modes",
)
