"""The parser: supported features, case folding, and located errors on malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from iterdeploy.errors import PDDLParseError
from iterdeploy.pddl.model import Atom, Literal, TypedName
from iterdeploy.pddl.parser import parse_domain, parse_problem

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
