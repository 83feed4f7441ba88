"""Every PDDL file under the shared benchmarks parses, prepares and round-trips; the PDDL
shipped inside the unified-planning wheel parses, or is refused naming what it needs."""

from __future__ import annotations

from pathlib import Path

import unified_planning

from iterdeploy.errors import PDDLParseError
from iterdeploy.pddl.model import Domain
from iterdeploy.pddl.parser import load_domain, load_problem, parse_domain, parse_problem
from iterdeploy.pddl.validate import prepare
from iterdeploy.pddl.writer import write_domain, write_problem


def _domain_of(problem: Path, domains: dict[Path, Domain]) -> Domain:
    folder = next(p for p in problem.parents if (p / "domain.pddl").is_file())
    if folder not in domains:
        domains[folder] = load_domain(folder / "domain.pddl")
    return domains[folder]


def test_every_benchmark_file_parses_and_prepares(benchmarks: Path) -> None:
    """All 16 domains and ~1,700 problems: each problem is checked against its domain."""
    domains: dict[Path, Domain] = {}
    problems = sorted(p for p in benchmarks.rglob("*.pddl") if p.name != "domain.pddl")
    assert len(problems) > 1600
    for index, path in enumerate(problems):
        problem = load_problem(path)
        checker = prepare(_domain_of(path, domains), problem)
        assert checker.initial_state(), path
        if index % 25 == 0:  # round-trip a sample: writing every problem doubles the time
            assert parse_problem(write_problem(problem)) == problem, path
    assert len(domains) == 16
    for domain in domains.values():
        text = write_domain(domain)
        assert parse_domain(text) == domain
        assert write_domain(parse_domain(text)) == text


def test_uppercase_logistics98_and_logistics00_parse(benchmarks: Path) -> None:
    """Files other parsers reject: `(:INIT` in upper case, `(in ?obj ?obj)` declarations."""
    classic = benchmarks / "ipc-classic"
    domain = load_domain(classic / "logistics98" / "domain.pddl")
    assert domain.action("load-truck") is not None
    logistics = load_domain(classic / "logistics" / "domain.pddl")
    assert [p.name for p in logistics.predicates][-1] == "in"


UP_TEST = Path(unified_planning.__file__).parent / "test"
# What unified-planning's test PDDL needs that we refuse by name (classical ones parse).
UP_REFUSED = {
    "car_nl": "processes (PDDL+)",
    "colorballs": "sensing actions (:observe)",
    "counters": "numeric fluents",
    "logistic_conf": "sensing actions (:observe)",
    "matchcellar": "durative actions",
    "parking_action_cost": "durative actions",
    "robot_fastener": "durative actions",
    "sailing": "numeric fluents",
    "tpp_metric": "numeric fluents",
    "visit_precedence": "durative actions",
}


def test_pddl_shipped_with_unified_planning_parses_or_is_refused_by_name() -> None:
    """PDDL written by others, always present: the wheel's test files (no IPC data needed)."""
    pairs = []
    for domain in sorted(UP_TEST.glob("*pddl/*/*.pddl")):
        if domain.name in ("domain.pddl", "d.pddl"):
            pairs += [(domain, p) for p in sorted(domain.parent.glob("*.pddl")) if p != domain]
    parsed = set()
    for domain_path, problem_path in pairs:
        folder = domain_path.parent.name
        try:
            domain, problem = load_domain(domain_path), load_problem(problem_path)
            prepare(domain, problem)
        except PDDLParseError as exc:
            assert f"{UP_REFUSED[folder]} are not supported" in str(exc), exc
            assert exc.line >= 1 and exc.filename == str(domain_path)
            continue
        parsed.add(folder)
        assert parse_domain(write_domain(domain)) == domain
        assert parse_problem(write_problem(problem)) == problem
    assert parsed == {"citycar", "depot", "miconic", "safe_road"}
    assert len(pairs) == 15
