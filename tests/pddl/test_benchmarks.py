"""Every PDDL file under the shared benchmarks parses, prepares and round-trips."""

from __future__ import annotations

from pathlib import Path

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
