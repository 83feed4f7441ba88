"""The validator: one hand-made plan per verdict reason, costs, and the transition system."""

from __future__ import annotations

import pickle
import random

import pytest

from iterdeploy.pddl.parser import parse_domain, parse_problem
from iterdeploy.pddl.validate import Checker, Reason, Verdict, prepare

TOWER_SOLUTION = ["(unstack b3 b2)", "(putdown b3)", "(unstack b2 b1)", "(putdown b2)"]


def test_validate_accepts_reference_solution(blocks_checker: Checker) -> None:
    verdict = blocks_checker.validate("\n".join(TOWER_SOLUTION) + "\n; cost = 4 (unit cost)\n")
    assert verdict == Verdict(True, Reason.OK, None, "", (), 4, 4.0)


@pytest.mark.parametrize(
    ("plan", "reason", "step", "unsatisfied"),
    [
        (["(unstack b3 b2)", "put b3 down"], Reason.UNPARSABLE, 1, ()),
        (["(unstack b3 b2)", "(put-down b3)"], Reason.UNKNOWN_ACTION, 1, ()),
        (["(unstack b3)"], Reason.WRONG_ARITY, 0, ()),
        (["(unstack b3 b9)"], Reason.UNKNOWN_OBJECT, 0, ()),
        (["(unstack b2 b1)"], Reason.UNSATISFIED_PRECONDITION, 0, ("(clear b2)",)),
        (TOWER_SOLUTION[:2], Reason.GOAL_NOT_REACHED, None, ("(clear b1)", "(on-table b2)")),
        (
            [],
            Reason.EMPTY_PLAN,
            None,
            ("(clear b1)", "(clear b2)", "(on-table b2)", "(on-table b3)"),
        ),
    ],
)
def test_validate_reports_each_reason(
    blocks_checker: Checker, plan, reason: Reason, step: int | None, unsatisfied: tuple
) -> None:
    verdict = blocks_checker.validate(plan)
    assert not verdict.valid
    assert verdict.reason is reason
    assert verdict.step == step
    assert verdict.unsatisfied == unsatisfied
    assert verdict.length == len(plan)
    assert verdict.detail


def test_validate_reports_type_mismatch(typed_checker: Checker) -> None:
    verdict = typed_checker.validate(["(drive p1 b a)"])  # p1 is a plane, drive needs a truck
    assert (verdict.reason, verdict.step) == (Reason.TYPE_MISMATCH, 0)
    assert "'p1'" in verdict.detail and "truck" in verdict.detail


def test_validate_sums_action_costs_with_fluents(typed_checker: Checker) -> None:
    plan = ["(load c1 t1 a)", "(drive t1 a depot)", "(unload-at-depot c1 t1)"]
    verdict = typed_checker.validate(plan)
    assert verdict.valid
    assert (verdict.length, verdict.cost) == (3, 6.0)


def test_validate_checks_inequality_and_negative_preconditions(typed_checker: Checker) -> None:
    same_place = typed_checker.validate(["(drive t1 a a)"])
    assert same_place.reason is Reason.UNSATISFIED_PRECONDITION
    assert same_place.unsatisfied == ("(not (= a a))",)
    assert not typed_checker.validate(["(load c2 p1 b)", "(drive p1 b a)"]).valid


def test_applicable_is_sorted_and_consistent_with_validate(blocks_checker: Checker) -> None:
    rng = random.Random(7)
    state, plan = blocks_checker.initial_state(), []
    for _ in range(25):
        actions = blocks_checker.applicable(state)
        assert actions == sorted(actions)
        for action in actions:  # every listed action passes the validator from this state
            assert blocks_checker.is_applicable(state, action)
            assert blocks_checker.validate([*plan, action]).reason in (
                Reason.OK,
                Reason.GOAL_NOT_REACHED,
            )
        others = [
            f"({n} {a} {b})"
            for n in ("stack", "unstack")
            for a in "b1 b2 b3".split()
            for b in "b1 b2 b3".split()
        ] + [f"({n} {a})" for n in ("pickup", "putdown") for a in "b1 b2 b3".split()]
        assert [a for a in others if blocks_checker.is_applicable(state, a)] == [
            a for a in others if a in actions
        ]
        plan.append(rng.choice(actions))
        state = blocks_checker.apply(state, plan[-1])
    assert blocks_checker.validate(plan).valid == blocks_checker.is_goal(state)


def test_applicable_uses_supertypes_and_constants(typed_checker: Checker) -> None:
    state = typed_checker.initial_state()
    assert typed_checker.applicable(state) == [
        "(drive t1 a b)",
        "(drive t1 a depot)",
        "(load c1 t1 a)",
        "(load c2 p1 b)",
    ]


SWITCH_DOMAIN = """(define (domain switch) (:requirements :action-costs)
  (:predicates (on) (done))
  (:functions (total-cost) - number)
  (:action flip :parameters () :precondition (not (on))
    :effect (and (on) (increase (total-cost) 5)))
  (:action finish :parameters () :precondition (on) :effect (done)))"""


@pytest.mark.parametrize(
    ("metric", "init_cost", "cost"),
    [("(:metric minimize (total-cost))", "(= (total-cost) 0)", 5.0), ("", "", 2.0)],
)
def test_cost_follows_the_metric(metric: str, init_cost: str, cost: float) -> None:
    """Under total-cost an action without `increase` is free; without a metric cost = length."""
    problem = f"(define (problem s) (:domain switch) (:init {init_cost}) (:goal (done)) {metric})"
    checker = prepare(parse_domain(SWITCH_DOMAIN), parse_problem(problem))
    verdict = checker.validate(["(flip)", "(finish)"])
    assert verdict.valid and verdict.cost == cost


def test_checker_survives_pickling_after_use(typed_checker: Checker) -> None:
    """Ray ships prepared checkers to workers: the caches must pickle too."""
    plan = ["(load c1 t1 a)", "(drive t1 a depot)", "(unload-at-depot c1 t1)"]
    typed_checker.applicable(typed_checker.initial_state())
    copy = pickle.loads(pickle.dumps(typed_checker))
    assert copy.validate(plan) == typed_checker.validate(plan)
    assert copy.applicable(copy.initial_state()) == typed_checker.applicable(
        typed_checker.initial_state()
    )


def test_validate_has_no_step_limit(blocks_checker: Checker) -> None:
    """VAL refuses plans over ~10k steps; a 20,004-step detour plus the solution is valid."""
    detour = ["(unstack b3 b2)", "(stack b3 b2)"] * 10_000
    text = "\n".join(f"{i}: {step} [1]" for i, step in enumerate(detour + TOWER_SOLUTION))
    verdict = blocks_checker.validate(text)
    assert (verdict.valid, verdict.length, verdict.cost) == (True, 20_004, 20_004.0)
