from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest

from iterdeploy.curation.checks import CheckConfig, build_check, run_checks
from iterdeploy.errors import ConfigError
from iterdeploy.pddl.parser import parse_domain, parse_problem
from iterdeploy.pddl.validate import prepare

DOMAIN = """
(define (domain bw)
  (:requirements :strips)
  (:predicates (on ?x ?y) (ontable ?x) (clear ?x) (handempty) (holding ?x))
  (:action pick-up :parameters (?x)
    :precondition (and (clear ?x) (ontable ?x) (handempty))
    :effect (and (not (ontable ?x)) (not (clear ?x)) (not (handempty)) (holding ?x)))
  (:action put-down :parameters (?x)
    :precondition (holding ?x)
    :effect (and (not (holding ?x)) (clear ?x) (handempty) (ontable ?x)))
  (:action stack :parameters (?x ?y)
    :precondition (and (holding ?x) (clear ?y))
    :effect (and (not (holding ?x)) (not (clear ?y)) (clear ?x) (handempty) (on ?x ?y)))
  (:action unstack :parameters (?x ?y)
    :precondition (and (on ?x ?y) (clear ?x) (handempty))
    :effect (and (holding ?x) (clear ?y) (not (clear ?x)) (not (handempty)) (not (on ?x ?y)))))
"""
PROBLEM = """
(define (problem p) (:domain bw) (:objects a b)
  (:init (ontable a) (ontable b) (clear a) (clear b) (handempty))
  (:goal (on a b)))
"""
PLAN = ["(pick-up a)", "(stack a b)"]
DETOUR = ["(pick-up b)", "(put-down b)", "(pick-up a)", "(stack a b)"]


@dataclass(frozen=True)
class FakeTask:
    reference_length: int | None = 2


@pytest.fixture(scope="module")
def checker():
    return prepare(parse_domain(DOMAIN), parse_problem(PROBLEM))


def test_length_ratio_compares_with_the_reference(checker):
    check = build_check(CheckConfig("short", "length-ratio", max_ratio=1.5))
    assert check(PLAN, FakeTask(), checker)
    assert not check(DETOUR, FakeTask(), checker)
    assert check(DETOUR, FakeTask(reference_length=None), checker)


def test_forbidden_actions_and_visited_atoms(checker):
    no_put_down = build_check(CheckConfig("np", "forbidden", actions=("PUT-DOWN",)))
    assert no_put_down(PLAN, FakeTask(), checker)
    assert not no_put_down(DETOUR, FakeTask(), checker)
    never_hold_b = build_check(CheckConfig("nb", "forbidden", atoms=("(holding  B)",)))
    assert never_hold_b(PLAN, FakeTask(), checker)
    assert not never_hold_b(DETOUR, FakeTask(), checker)


def test_forbidden_atoms_stop_at_the_first_inapplicable_step(checker):
    never_hold_b = build_check(CheckConfig("nb", "forbidden", atoms=("(holding b)",)))
    # (stack a b) is not applicable first, so the later (pick-up b) is never reached.
    assert never_hold_b(["(stack a b)", "(pick-up b)"], FakeTask(), checker)


def test_user_callable_check(checker, monkeypatch):
    module = types.ModuleType("my_checks")
    module.even = lambda steps, task: len(steps) % 2 == 0
    monkeypatch.setitem(sys.modules, "my_checks", module)
    checks = {"even": build_check(CheckConfig("even", "callable", function="my_checks:even"))}
    assert run_checks(checks, PLAN, FakeTask(), checker) == {"even": True}
    assert run_checks(checks, PLAN[:1], FakeTask(), checker) == {"even": False}
    assert run_checks(checks, [], FakeTask(), checker) == {"even": False}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "shorter"}, "kind = 'shorter' is not allowed: expected one of"),
        ({"kind": "length-ratio", "max_ratio": 0.0}, "max_ratio = 0.0 is not allowed.*> 0"),
        ({"kind": "forbidden"}, "actions = \\[\\] is not allowed.*`atoms`"),
        ({"kind": "callable", "function": "nocolon"}, "'module:function'"),
    ],
)
def test_bad_check_configs_say_what_to_fix(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        CheckConfig("c", **kwargs)
