"""For each IPC-2023 domain and each ADL task of the corpus: the reference plan is valid, and
one hand-made invalid plan per reason, derived from that reference plan, is rejected for that
reason at the right step.

The ADL corpus (tests/pddl/data, no IPC data needed) adds one invalid plan per new feature:
a failed forall, exists, disjunction or implication, a conditional effect that did not fire,
and a failed derived predicate."""

from __future__ import annotations

from pathlib import Path

import pytest

from iterdeploy.pddl.parser import load_domain, load_problem
from iterdeploy.pddl.plan import format_step, parse_step, plan_lines
from iterdeploy.pddl.validate import Checker, Reason, prepare

DOMAINS = ["blocksworld", "childsnack", "ferry", "floortile", "miconic"]
DOMAINS += ["rovers", "satellite", "sokoban", "spanner", "transport"]
DATA = Path(__file__).parent / "data"
CORPUS = ["adl", "derived", "keys"]  # tests/pddl/data/NAME-{domain,problem}.pddl, NAME-plan.plan


def _task(benchmarks: Path, name: str) -> tuple[Checker, list[str]]:
    root = benchmarks / "ipc2023-learning"
    checker = prepare(
        load_domain(root / name / "domain.pddl"),
        load_problem(root / name / "training" / "easy" / "p10.pddl"),
    )
    reference = plan_lines((root / "solutions" / name / "training/easy/p10.plan").read_text())
    return checker, reference


def _with_args(step: str, transform) -> str:
    name, args = parse_step(step)
    return format_step(name, transform(list(args)))


def _wrong_type(checker: Checker, step: str) -> str | None:
    """Return `step` with one argument replaced by an object the parameter's type excludes."""
    name, args = parse_step(step)
    for position in range(len(args)):
        for obj in checker.problem.objects:
            candidate = format_step(name, (*args[:position], obj.name, *args[position + 1 :]))
            if checker.validate([candidate]).reason is Reason.TYPE_MISMATCH:
                return candidate
    return None


def _inapplicable_first(checker: Checker, reference: list[str]) -> int:
    """Return the index of a reference step that is not applicable in the initial state."""
    applicable = set(checker.applicable(checker.initial_state()))
    return next(i for i, step in enumerate(reference) if step not in applicable)


@pytest.mark.parametrize("name", DOMAINS)
def test_domain_valid_plan_and_one_invalid_plan_per_reason(benchmarks: Path, name: str) -> None:
    checker, ref = _task(benchmarks, name)
    _check_reasons(checker, ref, typed=name != "blocksworld")  # the only untyped domain


@pytest.mark.parametrize("name", CORPUS)
def test_adl_corpus_valid_plan_and_one_invalid_plan_per_reason(name: str) -> None:
    checker = prepare(
        load_domain(DATA / f"{name}-domain.pddl"), load_problem(DATA / f"{name}-problem.pddl")
    )
    typed = name != "derived"
    _check_reasons(checker, plan_lines((DATA / f"{name}-plan.plan").read_text()), typed)


# ADL features: (corpus task, plan, failing step, the unsatisfied literal or ground instance).
FEATURES = {
    "forall precondition": (
        "adl",
        ["(drive depot north)"],
        0,
        "(imply (at book depot) (or (delivered book) (dest book depot)))",
    ),
    "exists precondition": (
        "adl",
        ["(load-all depot)", "(load-all depot)"],
        1,
        "(exists (?x - parcel) (and (at ?x depot) (not (delivered ?x))))",
    ),
    "disjunction": (
        "adl",
        ["(load-all depot)", "(drive depot north)", "(drive north south)"],
        2,
        "(or (road north south) (road south north))",
    ),
    "implication": (
        "adl",
        ["(load-all depot)", "(unload vase depot)"],
        1,
        "(imply (fragile vase) (padded depot))",
    ),
    "conditional effect not fired": (
        "adl",
        ["(load-all depot)", "(unload book depot)"],
        None,
        "(delivered book)",
    ),
    "forall goal": ("adl", [], None, "(delivered book)"),
    "derived precondition": ("derived", ["(unstack d c)", "(stack d b)"], 1, "(clear b)"),
    "derived clear": ("derived", ["(pick-up b)"], 0, "(clear b)"),
    "derived goal": ("derived", ["(unstack d c)", "(put-down d)"], None, "(above a c)"),
}


@pytest.mark.parametrize("feature", list(FEATURES))
def test_adl_feature_fails_at_the_right_step_with_its_ground_instance(feature: str) -> None:
    name, plan, step, unsatisfied = FEATURES[feature]
    checker = prepare(
        load_domain(DATA / f"{name}-domain.pddl"), load_problem(DATA / f"{name}-problem.pddl")
    )
    verdict = checker.validate(plan)
    assert not verdict.valid and verdict.step == step, verdict.detail
    if unsatisfied is not None:
        assert unsatisfied in verdict.unsatisfied, verdict.unsatisfied
    assert verdict.unsatisfied


def _check_reasons(checker: Checker, ref: list[str], typed: bool) -> None:
    """The reference plan is valid; one plan per reason fails for it at the right step."""
    verdict = checker.validate(ref)
    assert verdict.valid and verdict.length == len(ref)

    late = _inapplicable_first(checker, ref)
    cases = {
        Reason.UNPARSABLE: ([ref[0], "and then move on", *ref[1:]], 1),
        Reason.UNKNOWN_ACTION: ([_with_args(ref[0], list).replace("(", "(x-", 1), *ref[1:]], 0),
        Reason.WRONG_ARITY: ([ref[0], _with_args(ref[1], lambda a: [*a, a[-1]]), *ref[2:]], 1),
        Reason.UNKNOWN_OBJECT: ([_with_args(ref[0], lambda a: ["nowhere", *a[1:]])], 0),
        Reason.UNSATISFIED_PRECONDITION: ([ref[late], *ref], 0),
        Reason.GOAL_NOT_REACHED: (ref[:1], None),
        Reason.EMPTY_PLAN: ([], None),
    }
    wrong_type = _wrong_type(checker, ref[0])
    if typed:  # in an untyped domain every object fits every parameter
        assert wrong_type is not None
        cases[Reason.TYPE_MISMATCH] = ([wrong_type, *ref[1:]], 0)
    for reason, (plan, step) in cases.items():
        verdict = checker.validate(plan)
        assert (verdict.valid, verdict.reason, verdict.step) == (False, reason, step), plan[:3]
        if reason in (Reason.UNSATISFIED_PRECONDITION, Reason.GOAL_NOT_REACHED, Reason.EMPTY_PLAN):
            assert verdict.unsatisfied
