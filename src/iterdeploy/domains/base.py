"""The `Domain` and `Task` values, and the problem writer every generator shares.

A `Domain` couples a PDDL domain file (package data under `pddl/<name>/domain.pddl`) with a
seeded problem generator and a difficulty ladder: level k holds an inclusive range per generator
parameter. Generators draw only from the `random.Random` they are given and iterate in sorted
order, so a seed gives byte-identical PDDL on any machine.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources

from iterdeploy.domains.planner import PlannerConfig, find_plan
from iterdeploy.errors import ConfigError
from iterdeploy.pddl.parser import parse_domain, parse_problem
from iterdeploy.pddl.validate import prepare

Params = Mapping[str, int]
Ranges = Mapping[str, tuple[int, int]]

# How many draws `sample_params` tries before it declares a set of ranges impossible.
_MAX_DRAWS = 200


@dataclass(frozen=True, slots=True)
class Task:
    """A problem in a pool, with its metadata (see docs/domains.md for the manifest fields)."""

    id: str
    domain: str
    problem: str  # PDDL text
    params: Mapping[str, int]
    difficulty: int  # ladder level, 0 = easiest
    split: str  # "pool" | "heldout"
    reference_plan: tuple[str, ...]  # lower-case "(action args)" steps
    reference_length: int
    planner: str  # planner and settings that found the reference plan
    digest: str  # sha256 of the problem text
    optimal: bool = False  # True when astar(lmcut) proved the reference length optimal


@dataclass(frozen=True, slots=True)
class Domain:
    """A PDDL domain with its seeded problem generator and its difficulty ladder.

    `generator(rng, params, name)` returns problem PDDL; `check(params)` returns why a parameter
    combination is impossible (e.g. more boxes than free cells), or None.
    """

    name: str
    generator: Callable[[random.Random, Params, str], str]
    check: Callable[[Params], str | None]
    ladder: tuple[Ranges, ...]
    source: str  # the benchmark file whose semantics this domain follows
    description: str = field(default="")
    optimal_first: bool = False  # reference planner: try astar(lmcut) before lama-first

    @property
    def domain_pddl(self) -> str:
        """The PDDL domain file text."""
        return read_domain_file(self.name)

    @property
    def parameters(self) -> tuple[str, ...]:
        """The generator's parameter names, in ladder order."""
        return tuple(self.ladder[0])

    def generate(self, rng: random.Random, params: Params, name: str | None = None) -> str:
        """Return the problem PDDL for `params`, drawing randomness only from `rng`."""
        self.validate_params(params)
        return self.generator(rng, params, name or f"{self.name}-task")

    def solve(self, problem: str, config: PlannerConfig | None = None) -> tuple[str, ...] | None:
        """Return a plan for `problem` (PDDL text), or None: the oracle for tests and fakes.

        Breadth-first search (optimal) on tiny tasks, else Fast Downward; see planner.py.
        """
        checker = prepare(parse_domain(self.domain_pddl), parse_problem(problem))
        config = config or PlannerConfig()
        return find_plan(self.domain_pddl, problem, config, checker, self.optimal_first).plan

    def validate_params(self, params: Params) -> None:
        """Raise ConfigError unless `params` names every parameter with a possible value."""
        missing = [key for key in self.parameters if key not in params]
        unknown = sorted(set(params) - set(self.parameters))
        if missing or unknown:
            raise ConfigError(
                f"domain {self.name!r}: parameters {dict(params)!r} "
                f"(missing {missing}, unknown {unknown}); "
                f"give exactly these: {', '.join(self.parameters)}"
            )
        for key, value in params.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(
                    f"domain {self.name!r}: parameter {key}={value!r} must be an integer >= 0"
                )
        problem = self.check(params)
        if problem is not None:
            raise ConfigError(
                f"domain {self.name!r}: impossible parameters {dict(params)}: {problem}"
            )

    def sample_params(self, rng: random.Random, ranges: Ranges) -> dict[str, int]:
        """Return parameters drawn uniformly from `ranges`, redrawing impossible combinations."""
        for _ in range(_MAX_DRAWS):
            params = {key: rng.randint(*ranges[key]) for key in self.parameters}
            if self.check(params) is None:
                return params
        raise ConfigError(
            f"domain {self.name!r}: the ranges {dict(ranges)} admit no possible parameters "
            f"({self.check(params)}); widen or shift them"
        )

    def level_ranges(self, level: int) -> Ranges:
        """Return the parameter ranges of ladder level `level`."""
        if not 0 <= level < len(self.ladder):
            raise ConfigError(
                f"domain {self.name!r}: no difficulty level {level}; "
                f"levels are 0..{len(self.ladder) - 1}"
            )
        return self.ladder[level]


@functools.cache
def read_domain_file(name: str) -> str:
    """Return the packaged `pddl/<name>/domain.pddl` text."""
    return resources.files("iterdeploy.domains").joinpath("pddl", name, "domain.pddl").read_text()


def write_problem(
    name: str,
    domain: str,
    objects: Sequence[tuple[str, Sequence[str]]],
    init: Sequence[str],
    goal: Sequence[str],
    comment: Sequence[str] = (),
) -> str:
    """Return problem PDDL text; `objects` pairs a type ("" when untyped) with its names."""
    lines = [f";; {line}".rstrip() for line in comment]
    lines += [f"(define (problem {name})", f"  (:domain {domain})", "  (:objects"]
    for type_name, names in objects:
        if names:
            suffix = f" - {type_name}" if type_name else ""
            lines.append(f"    {' '.join(names)}{suffix}")
    lines.append("  )")
    lines.append("  (:init")
    lines += [f"    {atom}" for atom in init]
    lines.append("  )")
    lines.append("  (:goal (and")
    lines += [f"    {atom}" for atom in goal]
    lines.append("  ))")
    lines.append(")")
    return "\n".join(lines) + "\n"


def numbered(prefix: str, count: int, start: int = 1) -> list[str]:
    """Return object names prefix1..prefixN (e.g. numbered("b", 3) -> ["b1", "b2", "b3"])."""
    return [f"{prefix}{i}" for i in range(start, start + count)]


def ladder(**ranges: Sequence[tuple[int, int]]) -> tuple[Ranges, ...]:
    """Return a ladder from one sequence of (low, high) ranges per parameter, zipped by level."""
    lengths = {len(steps) for steps in ranges.values()}
    assert len(lengths) == 1, f"ladder columns differ in length: {lengths}"
    levels = zip(*ranges.values(), strict=True)
    return tuple(dict(zip(ranges, level, strict=True)) for level in levels)


def random_tree_edges(rng: random.Random, count: int) -> list[tuple[int, int]]:
    """Return the edges (i, j), i < j, of a random spanning tree over nodes 0..count-1."""
    return [(rng.randrange(node), node) for node in range(1, count)]


def random_connected_edges(rng: random.Random, count: int, extra: float) -> list[tuple[int, int]]:
    """Return sorted edges (i, j), i < j, of a random connected graph over 0..count-1.

    A random spanning tree keeps the graph connected; each other pair is added with
    probability `extra`.
    """
    edges = set(random_tree_edges(rng, count))
    for i in range(count):
        for j in range(i + 1, count):
            if (i, j) not in edges and rng.random() < extra:
                edges.add((i, j))
    return sorted(edges)
