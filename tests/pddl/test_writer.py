"""The writer: canonical text that parses back to an equal value."""

from __future__ import annotations

from pathlib import Path

from iterdeploy.pddl.parser import load_domain, load_problem, parse_domain, parse_problem
from iterdeploy.pddl.plan import plan_lines
from iterdeploy.pddl.validate import prepare
from iterdeploy.pddl.writer import write_domain, write_plan, write_problem

DATA = Path(__file__).parent / "data"


def test_round_trip_keeps_types_either_constants_costs() -> None:
    domain = load_domain(DATA / "typed-domain.pddl")
    problem = load_problem(DATA / "typed-problem.pddl")
    assert parse_domain(write_domain(domain)) == domain
    assert parse_problem(write_problem(problem)) == problem
    assert "(either vehicle crate)" in write_domain(domain)
    assert "(increase (total-cost) (distance ?from ?to))" in write_domain(domain)


def test_written_task_validates_like_the_original() -> None:
    domain = load_domain(DATA / "typed-domain.pddl")
    problem = load_problem(DATA / "typed-problem.pddl")
    plan = (DATA / "typed-plan.plan").read_text()
    rewritten = prepare(parse_domain(write_domain(domain)), parse_problem(write_problem(problem)))
    assert rewritten.validate(plan) == prepare(domain, problem).validate(plan)


def test_write_plan_is_an_ipc_plan_file() -> None:
    text = write_plan(["(pick-up a)", "(stack a b)"], cost=7)
    assert text == "(pick-up a)\n(stack a b)\n; cost = 7\n"
    assert plan_lines(text) == ["(pick-up a)", "(stack a b)"]
