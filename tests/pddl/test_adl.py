"""ADL and derived predicates, the constructs refused by name, and files the planners accept."""

from __future__ import annotations

import gc
import logging
import random
import time
import weakref
from pathlib import Path

import pytest

from iterdeploy.errors import PDDLParseError
from iterdeploy.pddl.model import Formula
from iterdeploy.pddl.parser import load_domain, load_problem, parse_domain, parse_problem
from iterdeploy.pddl.plan import plan_lines
from iterdeploy.pddl.validate import Checker, Reason, prepare
from iterdeploy.pddl.writer import write_domain, write_problem

DATA = Path(__file__).parent / "data"


def _checker(name: str) -> Checker:
    return prepare(
        load_domain(DATA / f"{name}-domain.pddl"), load_problem(DATA / f"{name}-problem.pddl")
    )


def _plan(name: str) -> list[str]:
    return plan_lines((DATA / f"{name}-plan.plan").read_text())


def test_adl_domain_keeps_literals_apart_from_formulas() -> None:
    domain = load_domain(DATA / "adl-domain.pddl")
    drive = domain.action("drive")
    assert [str(lit) for lit in drive.precondition] == ["(van-at ?from)"]
    assert [part.op for part in drive.condition.parts] == ["or", "forall"]
    load_all = domain.action("load-all")
    assert load_all.add == () and len(load_all.effects) == 1
    assert [v.name for v in load_all.effects[0].variables] == ["?x"]
    problem = load_problem(DATA / "adl-problem.pddl")
    assert problem.goal == () and problem.goal_condition.parts[0].op == "forall"


def test_failed_forall_precondition_names_the_failing_ground_instance() -> None:
    checker = _checker("adl")
    verdict = checker.validate(["(drive depot north)"])  # vase and book are left at the depot
    assert (verdict.reason, verdict.step) == (Reason.UNSATISFIED_PRECONDITION, 0)
    instance = "(imply (at book depot) (or (delivered book) (dest book depot)))"
    assert verdict.unsatisfied == (instance,)
    assert verdict.detail == f"step 0 (drive depot north): precondition not satisfied: {instance}"


def test_conditional_effect_fires_only_where_its_condition_holds() -> None:
    checker = _checker("adl")
    plan = _plan("adl")
    assert checker.validate(plan).valid
    wrong_place = ["(load-all depot)", "(unload book depot)"]  # not its destination
    verdict = checker.validate(wrong_place)
    assert verdict.reason is Reason.GOAL_NOT_REACHED
    assert verdict.unsatisfied == ("(delivered book)",)  # the first failing instance
    state = checker.initial_state()
    for step in plan[:2]:
        state = checker.apply(state, step)
    assert "(at lamp north)" in state and "(in book)" in state and "(in vase)" in state
    state = checker.apply(state, "(load-all north)")
    assert "(in lamp)" in state and "(at lamp north)" not in state and "(in book)" in state


def test_disjunction_exists_and_imply_preconditions() -> None:
    checker = _checker("adl")
    state = checker.initial_state()
    assert checker.applicable(state) == ["(load-all depot)"]  # exists: parcels at the depot
    verdict = checker.validate(["(load-all north)"])
    assert verdict.unsatisfied[0] == "(van-at north)"
    plan = _plan("adl")
    back_again = [*plan[:5], "(drive depot north)"]  # (or ...): north -> depot was reversed
    assert checker.validate(back_again).reason is Reason.GOAL_NOT_REACHED
    unpadded = [*plan[:6], "(unload vase depot)"]  # imply: fragile needs a padded place
    verdict = checker.validate(unpadded)
    assert verdict.unsatisfied == ("(imply (fragile vase) (padded depot))",)


def test_derived_predicates_are_computed_from_the_state() -> None:
    checker = _checker("derived")
    assert checker.validate(_plan("derived")).valid
    verdict = checker.validate(["(pick-up b)"])  # a sits on b: b is not clear
    assert (verdict.reason, verdict.unsatisfied) == (
        Reason.UNSATISFIED_PRECONDITION,
        ("(clear b)",),
    )
    covered = [*_plan("derived")[:4], "(pick-up d)"]  # c now sits on d
    assert checker.validate(covered).unsatisfied == ("(clear d)",)
    verdict = checker.validate(_plan("derived")[:4])
    assert (verdict.reason, verdict.unsatisfied) == (Reason.GOAL_NOT_REACHED, ("(above a c)",))
    state = checker.initial_state()
    assert not checker.is_goal(state) and "(clear a)" not in state  # derived atoms stay out


def test_derived_goal_uses_the_transitive_closure() -> None:
    domain = load_domain(DATA / "derived-domain.pddl")
    text = "(define (problem q) (:domain blocks-derived) (:objects a b c d)"
    text += " (:init (handempty) (on a b) (on b c) (ontable c) (ontable d)) (:goal (above a c)))"
    checker = prepare(domain, parse_problem(text))
    assert checker.validate([]).valid  # (above a c) holds through b
    assert checker.applicable(checker.initial_state()) == ["(pick-up d)", "(unstack a b)"]


def test_derived_predicates_that_negate_themselves_are_refused() -> None:
    text = "(define (domain d) (:predicates (p ?x) (q ?x))"
    text += " (:derived (p ?x) (not (q ?x))) (:derived (q ?x) (not (p ?x))))"
    problem = parse_problem("(define (problem x) (:domain d) (:objects a) (:init) (:goal (p a)))")
    with pytest.raises(PDDLParseError, match="depends on itself through a negation"):
        prepare(parse_domain(text), problem)


def test_a_quantified_precondition_does_not_ground_the_whole_problem() -> None:
    """300 objects: grounding `move` would give 27 million actions; validation stays lazy."""
    domain = parse_domain(
        "(define (domain lazy) (:predicates (at ?x) (marked ?x) (free ?x ?y ?z))"
        " (:action move :parameters (?x ?y ?z)"
        "  :precondition (and (at ?x) (forall (?w) (or (marked ?w) (= ?w ?y))))"
        "  :effect (and (not (at ?x)) (at ?y) (forall (?w) (when (marked ?w) (free ?x ?y ?w))))))"
    )
    names = [f"o{i}" for i in range(300)]
    init = "(at o0) " + " ".join(f"(marked {n})" for n in names[:-1])
    problem = parse_problem(
        f"(define (problem big) (:domain lazy) (:objects {' '.join(names)})"
        f" (:init {init}) (:goal (at o299)))"
    )
    start = time.perf_counter()
    checker = prepare(domain, problem)
    verdict = checker.validate(["(move o0 o299 o1)"])
    assert verdict.valid, verdict.detail
    bad = checker.validate(["(move o0 o5 o1)"])  # o299 is neither marked nor ?y
    assert bad.unsatisfied == ("(or (marked o299) (= o299 o5))",)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    ("body", "where", "token"),
    [
        (":precondition (<= (+ (value ?c) 1) (max))", "3:53", "<="),
        (":effect (decrease (value ?c) 1)", "3:47", "decrease"),
        (":effect (assign (value ?c) 0)", "3:47", "assign"),
        (":precondition (>= (value ?c) 1)", "3:53", ">="),
        (":precondition (p (value ?c))", "3:56", None),
    ],
)
def test_numeric_fluents_are_refused_by_name_and_located(
    body: str, where: str, token: str | None
) -> None:
    text = "(define (domain n) (:types counter)\n(:predicates (p ?c)) (:functions (value ?c) (max))"
    text += f"\n(:action a :parameters (?c - counter) {body}))"
    with pytest.raises(PDDLParseError) as info:
        parse_domain(text, "n.pddl")
    assert str(info.value).startswith(f"n.pddl:{where}: numeric fluents are not supported")
    if token is not None:
        assert info.value.token == token


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("(:process p :parameters () :precondition (q) :effect (q))", "processes (PDDL+) are"),
        ("(:event e :parameters () :precondition (q) :effect (q))", "events (PDDL+) are"),
        ("(:action a :parameters () :observe (q))", "sensing actions (:observe) are"),
        ("(:durative-action a :parameters ())", "durative actions are"),
    ],
)
def test_pddl_plus_and_sensing_are_refused_by_name(section: str, message: str) -> None:
    with pytest.raises(PDDLParseError) as info:
        parse_domain(f"(define (domain x) (:predicates (q))\n  {section})", "x.pddl")
    assert f"{message} not supported" in str(info.value) and info.value.line == 2


def test_files_fast_downward_accepts_parse_as_it_reads_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """zenotravel `(aircraft?a)`, storage's twice-declared type, tidybot's `object` in
    :types, and `boat -object` without a space."""
    zeno = parse_domain(
        "(define (domain z) (:predicates (aircraft ?a) (at ?a))"
        " (:action fly :parameters (?a) :precondition (aircraft?a) :effect (at ?a)))"
    )
    assert str(zeno.action("fly").precondition[0]) == "(aircraft ?a)"
    with caplog.at_level(logging.WARNING):
        storage = parse_domain(
            "(define (domain s) (:types hoist surface area - object\n  area crate - surface)"
            " (:predicates (in ?c - crate ?a - area)))",
            "s.pddl",
        )
    area = next(t for t in storage.types if t.name == "area")
    assert area.types == ("object", "surface")
    assert "s.pddl:2:3: type 'area' declared again" in caplog.text
    tidy = parse_domain("(define (domain t) (:types robot cart object xc) (:predicates (p)))")
    assert [t.name for t in tidy.types] == ["robot", "cart", "xc"]
    boat = parse_domain(
        "(define (domain b) (:types boat -object person -object) (:predicates (saved ?t -person)))"
    )
    assert [(t.name, t.types) for t in boat.types] == [
        ("boat", ("object",)),
        ("person", ("object",)),
    ]
    assert boat.predicates[0].parameters[0].types == ("person",)


def test_a_type_cycle_is_located_at_the_type() -> None:
    with pytest.raises(PDDLParseError) as info:
        parse_domain("(define (domain d)\n (:types a - b\n  b - a))", "d.pddl")
    assert (info.value.line, info.value.column, info.value.token) == (2, 10, "a")


def test_a_byte_order_mark_is_accepted_in_domain_problem_and_plan(tmp_path: Path) -> None:
    for name in ("domain", "problem", "plan"):
        source = DATA / f"adl-{name}.{'plan' if name == 'plan' else 'pddl'}"
        (tmp_path / source.name).write_text("\ufeff" + source.read_text(), encoding="utf-8")
    checker = prepare(
        load_domain(tmp_path / "adl-domain.pddl"), load_problem(tmp_path / "adl-problem.pddl")
    )
    verdict = checker.validate((tmp_path / "adl-plan.plan").read_text(encoding="utf-8"))
    assert verdict.valid and verdict.length == 8


@pytest.mark.parametrize("name", ["adl", "derived"])
def test_adl_and_derived_tasks_round_trip_through_the_writer(name: str) -> None:
    domain = load_domain(DATA / f"{name}-domain.pddl")
    problem = load_problem(DATA / f"{name}-problem.pddl")
    assert parse_domain(write_domain(domain)) == domain
    assert parse_problem(write_problem(problem)) == problem
    again = prepare(parse_domain(write_domain(domain)), parse_problem(write_problem(problem)))
    assert again.validate(_plan(name)).valid


@pytest.mark.parametrize("name", ["adl", "derived"])
def test_random_walks_on_adl_tasks_are_valid_plan_prefixes(name: str) -> None:
    """`applicable` and `apply` (used by random walks) agree with `validate`."""
    checker = _checker(name)
    rng = random.Random(7)
    for _ in range(20):
        state, steps = checker.initial_state(), []
        for _ in range(rng.randint(1, 12)):
            actions = checker.applicable(state)
            assert all(checker.is_applicable(state, a) for a in actions)
            if not actions:
                break
            steps.append(rng.choice(actions))
            state = checker.apply(state, steps[-1])
        verdict = checker.validate(steps)
        assert verdict.valid or verdict.reason is Reason.GOAL_NOT_REACHED, verdict.detail
        assert verdict.valid == checker.is_goal(state)


def test_condition_formulas_render_with_their_bindings() -> None:
    condition = load_domain(DATA / "adl-domain.pddl").action("drive").condition
    assert isinstance(condition, Formula)
    assert str(condition.parts[0]) == "(or (road ?from ?to) (road ?to ?from))"


@pytest.mark.parametrize("name", ["typed", "adl", "derived"])
def test_a_dropped_checker_is_freed_at_once_without_the_cycle_collector(name: str) -> None:
    """No reference cycle: the loop prepares one checker per task, thousands per run."""
    gc.disable()
    try:
        checker = _checker(name)
        checker.validate((DATA / f"{name}-plan.plan").read_text())
        checker.applicable(checker.initial_state())
        ref = weakref.ref(checker)
        del checker
        assert ref() is None
    finally:
        gc.enable()
