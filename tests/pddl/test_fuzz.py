"""Fuzz tests: random and mutated PDDL or plan text yields a value or a located error."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from iterdeploy.errors import PDDLParseError
from iterdeploy.pddl.parser import parse_domain, parse_problem
from iterdeploy.pddl.validate import Reason, prepare

DATA = Path(__file__).parent / "data"
DOMAIN = (DATA / "typed-domain.pddl").read_text()
PROBLEM = (DATA / "typed-problem.pddl").read_text()
PLAN = (DATA / "typed-plan.plan").read_text()
_PDDL_CHARS = st.sampled_from(list("()?-;: \n\tabcxyz019") + [":action", "and", "not", "either"])


def _mutate(text: str, data: st.DataObject) -> str:
    """Return `text` with a few random cuts, insertions and deletions."""
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        if data.draw(st.booleans()):
            text = text[:at] + data.draw(st.lists(_PDDL_CHARS, max_size=6).map("".join)) + text[at:]
        else:
            text = text[:at] + text[at + data.draw(st.integers(1, 30)) :]
    return text


def _parses_or_located_error(parse, text: str):
    try:
        return parse(text, filename="fuzz.pddl")
    except PDDLParseError as exc:
        assert exc.filename == "fuzz.pddl"
        assert exc.line >= 1 and exc.column >= 1
        return None


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=200), st.lists(_PDDL_CHARS, max_size=60).map("".join)))
def test_random_text_never_crashes_the_parser(text: str) -> None:
    _parses_or_located_error(parse_domain, text)
    _parses_or_located_error(parse_problem, text)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_task_gives_a_task_or_a_located_error(data: st.DataObject) -> None:
    domain = _parses_or_located_error(parse_domain, _mutate(DOMAIN, data))
    problem = _parses_or_located_error(parse_problem, _mutate(PROBLEM, data))
    if domain is None or problem is None:
        return
    try:
        checker = prepare(domain, problem)
    except PDDLParseError as exc:
        assert str(exc)
        return
    verdict = checker.validate(PLAN)
    assert isinstance(verdict.reason, Reason)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_plan_text_gives_a_verdict(data: st.DataObject) -> None:
    checker = prepare(parse_domain(DOMAIN), parse_problem(PROBLEM))
    plan = _mutate(PLAN, data)
    verdict = checker.validate(plan)
    assert verdict.valid == (verdict.reason is Reason.OK)
    assert verdict.step is None or 0 <= verdict.step < verdict.length


def test_deep_nesting_is_a_parse_error_not_a_recursion_error() -> None:
    text = "(define (domain d) (:predicates (p)) (:action a :parameters () :precondition "
    text += "(and " * 5000 + "(p)" + ")" * 5000 + " :effect (p)))"
    try:
        parse_domain(text)
    except PDDLParseError as exc:
        assert "nested deeper" in str(exc)
    else:
        raise AssertionError("expected a PDDLParseError")
