"""Logistics problems (prompt examples): trucks within cities, airplanes between airports.

Each city has `size` locations, the first of which is its airport, and one truck. Packages
start at random locations and must reach a different random location.
"""

from __future__ import annotations

import random

from iterdeploy.domains.base import Domain, Params, ladder, numbered, write_problem

LADDER = ladder(
    cities=[(1, 1), (1, 2), (2, 2), (2, 2), (2, 3), (2, 3), (3, 4), (3, 4), (4, 5), (4, 6)],
    size=[(2, 3), (2, 3), (2, 3), (2, 3), (2, 3), (2, 3), (2, 3), (3, 4), (3, 4), (3, 5)],
    packages=[(1, 1), (1, 1), (1, 2), (2, 2), (2, 3), (3, 4), (3, 5), (4, 6), (5, 8), (6, 10)],
    airplanes=[(1, 1), (1, 1), (1, 1), (1, 1), (1, 2), (1, 2), (1, 2), (1, 2), (2, 3), (2, 3)],
)


def check(params: Params) -> str | None:
    """Return why `params` is impossible, or None."""
    if min(params["cities"], params["packages"], params["airplanes"]) < 1:
        return "cities, packages and airplanes must be >= 1"
    if params["size"] < 1 or params["cities"] * params["size"] < 2:
        return "size must be >= 1 and there must be >= 2 locations in all"
    return None


def generate(rng: random.Random, params: Params, name: str) -> str:
    """Return a Logistics problem."""
    cities = numbered("city", params["cities"])
    places = {city: [f"{city}-{i}" for i in range(1, params["size"] + 1)] for city in cities}
    locations = [loc for city in cities for loc in places[city]]
    airports = [places[city][0] for city in cities]
    trucks = [f"truck{i}" for i in range(1, len(cities) + 1)]
    planes = numbered("plane", params["airplanes"])
    packages = numbered("package", params["packages"])
    init = [f"(city {city})" for city in cities] + [f"(location {loc})" for loc in locations]
    init += [f"(airport {airport})" for airport in airports]
    init += [f"(in-city {loc} {city})" for city in cities for loc in places[city]]
    for truck, city in zip(trucks, cities, strict=True):
        init += [f"(truck {truck})", f"(at {truck} {rng.choice(places[city])})"]
    for plane in planes:
        init += [f"(airplane {plane})", f"(at {plane} {rng.choice(airports)})"]
    goal = []
    for package in packages:
        start, target = rng.sample(locations, 2)
        init += [f"(package {package})", f"(at {package} {start})"]
        goal.append(f"(at {package} {target})")
    return write_problem(
        name,
        "logistics",
        [("", cities + locations + trucks + planes + packages)],
        init,
        goal,
        comment=[", ".join(f"{key}={params[key]}" for key in LADDER[0])],
    )


LOGISTICS = Domain(
    name="logistics",
    generator=generate,
    check=check,
    ladder=LADDER,
    source="ipc-classic/logistics",
    description="trucks and airplanes deliver packages between cities",
)
