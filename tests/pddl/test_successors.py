"""`applicable` misses nothing: it equals brute-force grounding along random walks."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from iterdeploy.pddl.model import OBJECT, Domain
from iterdeploy.pddl.parser import load_domain, load_problem, parse_problem
from iterdeploy.pddl.plan import format_step
from iterdeploy.pddl.validate import Checker, prepare

DOMAINS = ["blocksworld", "childsnack", "ferry", "floortile", "miconic"]
DOMAINS += ["rovers", "satellite", "spanner", "transport"]

# A 1x4 corridor with one box: the IPC-2023 Sokoban problems are too big to brute-force.
SOKOBAN_CORRIDOR = """(define (problem corridor) (:domain sokoban)
  (:objects l1 l2 l3 l4 - location b1 - box)
  (:init (at-robot l1) (at b1 l2) (clear l1) (clear l3) (clear l4)
    (adjacent l1 l2 right) (adjacent l2 l3 right) (adjacent l3 l4 right)
    (adjacent l4 l3 left) (adjacent l3 l2 left) (adjacent l2 l1 left))
  (:goal (at b1 l4)))"""


def _types_of(domain: Domain, declared: tuple[str, ...]) -> set[str]:
    """Return the declared types and all their ancestors (written independently of validate)."""
    parents = {t.name: t.types for t in domain.types}
    out, todo = {OBJECT, *declared}, list(declared)
    while todo:
        for parent in parents.get(todo.pop(), ()):
            if parent not in out:
                out.add(parent)
                todo.append(parent)
    return out


def _brute_force(checker: Checker, state: frozenset[str]) -> list[str]:
    """Return every type-correct ground action that `is_applicable` accepts in `state`."""
    domain = checker.domain
    objects = [*checker.problem.objects, *domain.constants]
    out = []
    for action in domain.actions:
        choices = [
            [o.name for o in objects if _types_of(domain, o.types) & set(param.types)]
            for param in action.parameters
        ]
        for args in itertools.product(*choices):
            step = format_step(action.name, args)
            if checker.is_applicable(state, step):
                out.append(step)
    return sorted(out)


def _walk_and_compare(checker: Checker, rng: random.Random) -> int:
    state, seen = checker.initial_state(), 0
    for _ in range(15):
        actions = checker.applicable(state)
        assert actions == _brute_force(checker, state)
        seen += len(actions)
        if not actions:
            break
        state = checker.apply(state, rng.choice(actions))
    return seen


@pytest.mark.parametrize("name", DOMAINS)
def test_applicable_equals_brute_force_grounding(benchmarks: Path, name: str) -> None:
    root = benchmarks / "ipc2023-learning" / name
    problems = sorted((root / "training" / "easy").glob("*.pddl"), key=lambda p: p.stat().st_size)
    checker = prepare(load_domain(root / "domain.pddl"), load_problem(problems[20]))
    assert _walk_and_compare(checker, random.Random(name)) > 0


def test_applicable_equals_brute_force_on_sokoban_constants(benchmarks: Path) -> None:
    """Sokoban's directions are domain constants used in the problem's init."""
    domain = load_domain(benchmarks / "ipc2023-learning" / "sokoban" / "domain.pddl")
    checker = prepare(domain, parse_problem(SOKOBAN_CORRIDOR))
    assert checker.applicable(checker.initial_state()) == ["(push l1 l2 l3 right b1)"]
    assert _walk_and_compare(checker, random.Random(0)) > 0
