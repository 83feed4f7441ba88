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
            HEAD + "(:action a :parameters (?x - t) :precondition (>= (f ?x) 1) :effect (q)))",
            "numeric fluents are not supported",
            ">=",
        ),
        (
            HEAD + "(:action a :parameters (?x - t) :precondition (p ?y) :effect (q)))",
            "undeclared variable",
            "?y",
        ),
        (HEAD + "(:action a :parameters (?x -) :effect (q)))", "'-' must sit between", "-"),
        (HEAD + "(:action a :parameters (?x - t) :effect (p ?x ?x)))", "takes 1 arguments", None),
        (
            HEAD + "(:action a :parameters (?x - t) :effect (forall (?y - t) (p ?z))))",
            "undeclared variable",
            "?z",
        ),
        (HEAD + "(:action a :parameters (?x ?x) :effect (q)))", "duplicate parameter", "?x"),
        (HEAD + "(:axiom (q)))", "unknown section", ":axiom"),
        ("(define (domain d) (:types a - b b - a))", "its own ancestor", "a"),
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
    ("objects", "init", "goal", "where"),
    [
        (
            "a - t",
            "(p a)\n         (p b)",
            "(q)",
            "4:13: init atom (p b) uses undeclared object 'b'",
        ),
        (
            "a - t",
            "(p a)",
            "(and (q) (not (p c)))",
            "4:27: goal atom (p c) uses undeclared object 'c'",
        ),
        ("a - t", "(q) (p a a)", "(q)", "3:14: init atom (p a a) has 2 arguments"),
        (
            "a - t",
            "(q)",
            "(and (q)\n   (r a))",
            "5:5: goal atom (r a) uses undeclared predicate 'r'",
        ),
        (
            "a - t b",
            "(p a) (p ; a comment\n b)",
            "(q)",
            "4:2: init atom (p b): 'b' does not fit ?x",
        ),
        ("a - t\n   c d - u", "(q)", "(q)", "3:4: object 'c' has undeclared type 'u'"),
    ],
)
def test_prepare_locates_a_problem_that_does_not_fit_its_domain(
    objects: str, init: str, goal: str, where: str
) -> None:
    """Errors found after parsing point at the offending name in the problem file."""
    domain = parse_domain(HEAD + ")")
    text = f"(define (problem p) (:domain d)\n  (:objects {objects})\n  (:init {init})\n"
    text += f"  (:goal {goal}))\n"
    with pytest.raises(PDDLParseError) as info:
        prepare(domain, parse_problem(text, "p.pddl"))
    assert str(info.value).startswith(f"p.pddl:{where}")
    line, column = where.split(":")[:2]
    assert (info.value.line, info.value.column) == (int(line), int(column))


@pytest.mark.parametrize(
    ("domain", "problem", "where"),
    [
        (
            "(:constants k - t)",
            "(:objects k) (:init) (:goal (q))",
            "p.pddl:1:43: object 'k' is declared with two types",
        ),
        (
            "(:constants\n  k - u)",
            "(:init) (:goal (q))",
            "d.pddl:3:3: object 'k' has undeclared type 'u'",
        ),
        (
            "(:action a :parameters (?x\n - u) :effect (q))",
            "(:init) (:goal (q))",
            "d.pddl:2:25: parameter ?x of action 'a' has undeclared type 'u'",
        ),
        (
            "(:action a :parameters (?x - t)\n :effect (and (q) (p zz)))",
            "(:init) (:goal (q))",
            "d.pddl:3:22: action 'a' uses 'zz', which is neither a parameter nor a constant",
        ),
    ],
)
def test_prepare_locates_a_domain_error(domain: str, problem: str, where: str) -> None:
    """Domain-side errors of `prepare` name the domain file and the offending name."""
    parsed = parse_domain(HEAD + domain + ")", "d.pddl")
    text = f"(define (problem p) (:domain d) {problem})"
    with pytest.raises(PDDLParseError) as info:
        prepare(parsed, parse_problem(text, "p.pddl"))
    assert str(info.value).startswith(where)


def test_prepare_rejects_an_unsupported_metric() -> None:
    domain = parse_domain(HEAD + ")")
    text = "(define (problem p) (:domain d) (:init) (:goal (q)) (:metric minimize (total-time)))"
    with pytest.raises(PDDLParseError, match="metric") as info:
        prepare(domain, parse_problem(text, "p.pddl"))
    assert info.value.filename == "p.pddl"
