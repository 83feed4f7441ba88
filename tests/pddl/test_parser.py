"""The parser: supported features, case folding, and located errors on malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from iterdeploy.errors import PDDLParseError
from iterdeploy.pddl.model import Atom, Literal, TypedName
from iterdeploy.pddl.parser import parse_domain, parse_problem
from iterdeploy.pddl.validate import prepare

DATA = Path(__file__).parent / "data"


def test_parse_domain_reads_types_constants_costs() -> None:
    domain = parse_domain((DATA / "typed-domain.pddl").read_text())
    assert domain.name == "depot-mini"
    assert TypedName("truck", ("vehicle",)) in domain.types
    assert domain.constants == (TypedName("depot", ("place",)),)
    at = next(p for p in domain.predicates if p.name == "at")
    assert at.parameters[0].types == ("vehicle", "crate")
    drive = domain.action("drive")
    assert drive is not None
    assert Literal(Atom("=", ("?from", "?to")), False) in drive.precondition
    assert drive.cost is not None and drive.cost.fluent == Atom("distance", ("?from", "?to"))


def test_parse_problem_is_case_insensitive() -> None:
    problem = parse_problem(
        "(DEFINE (PROBLEM P) (:DOMAIN Blocks) (:OBJECTS A B) (:INIT (ON A B)) (:GOAL (ON B A)))"
    )
    assert problem.domain_name == "blocks"
    assert problem.init == (Atom("on", ("a", "b")),)
    assert problem.goal == (Literal(Atom("on", ("b", "a"))),)


def test_parse_error_carries_file_line_column_token() -> None:
    text = "(define (domain d)\n  (:predicates (p ?x))\n  (:action a :parameters (?x)\n"
    text += "    :precondition (q ?x) :effect (p ?x)))\n"
    with pytest.raises(PDDLParseError) as info:
        parse_domain(text, filename="bad.pddl")
    error = info.value
    assert (error.filename, error.line, error.column, error.token) == ("bad.pddl", 4, 19, "q")
    assert "undeclared predicate" in str(error)


HEAD = "(define (domain d) (:requirements :typing) (:types t) (:predicates (p ?x - t) (q))\n"


@pytest.mark.parametrize(
    ("text", "message", "token"),
    [
        (
            HEAD + "(:action a :parameters (?x - t) :precondition (or (p ?x) (q)) :effect (q)))",
            "disjunctive conditions are not supported",
            "or",
        ),
        (
            HEAD + "(:action a :parameters (?x - t) :precondition (p ?y) :effect (q)))",
            "undeclared variable",
            "?y",
        ),
        (HEAD + "(:action a :parameters (?x -) :effect (q)))", "'-' must sit between", "-"),
        (HEAD + "(:action a :parameters (?x - t) :effect (p ?x ?x)))", "takes 1 arguments", None),
        (
            HEAD + "(:action a :parameters (?x - t) :effect (forall (?y - t) (p ?y))))",
            "universal quantifiers",
            "forall",
        ),
        (HEAD + "(:action a :parameters (?x ?x) :effect (q)))", "duplicate parameter", "?x"),
        (HEAD + "(:axiom (q)))", "unknown section", ":axiom"),
        ("(define (domain d) (:types a - b b - a))", "its own ancestor", None),
        (HEAD + ") (extra)", "text after the closing", None),
    ],
)
def test_parse_domain_rejects_with_a_located_message(
    text: str, message: str, token: str | None
) -> None:
    with pytest.raises(PDDLParseError) as info:
        parse_domain(text, filename="d.pddl")
    assert message in str(info.value)
    assert info.value.line >= 1 and info.value.filename == "d.pddl"
    if token is not None:
        assert info.value.token == token


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("(:objects a - t) (:init (p b)) (:goal (q))", "undeclared object 'b'"),
        ("(:objects a - t) (:init (r a)) (:goal (q))", "undeclared predicate 'r'"),
        ("(:objects a - u) (:init) (:goal (q))", "undeclared type 'u'"),
        ("(:objects a - t) (:init (p a a)) (:goal (q))", "has 2 arguments"),
        ("(:objects a - t b) (:init (p b)) (:goal (q))", "'b' does not fit ?x"),
        ("(:objects a - t) (:init) (:goal (q)) (:metric minimize (total-time))", "metric"),
    ],
)
def test_prepare_rejects_a_problem_that_does_not_fit_its_domain(problem: str, message: str) -> None:
    domain = parse_domain(HEAD + ")")
    with pytest.raises(PDDLParseError) as info:
        prepare(domain, parse_problem(f"(define (problem p) (:domain d) {problem})", "p.pddl"))
    assert message in str(info.value)
    assert info.value.filename == "p.pddl"
