"""Random-walk pretraining traces: legal, goal-blind, in the trace format, seeded."""

from __future__ import annotations

from iterdeploy.embedded.walks import WalkSpec, parsed_domain, walk_examples
from iterdeploy.pddl.parser import parse_problem
from iterdeploy.pddl.validate import Reason, prepare
from iterdeploy.prompting.extract import check_answer, split_reasoning

SPEC = WalkSpec(("blocksworld", "gripper"), (0, 1), max_steps=10, max_reasoning_lines=6)


def problem_of(prompt: str) -> str:
    """Rebuild a problem from a compact prompt (objects, init and goal lines)."""
    lines = dict(line.split(": ", 1) for line in prompt.splitlines())
    return (
        f"(define (problem p) (:domain {lines['domain']}) (:objects {lines['objects']})"
        f" (:init {lines['init']}) (:goal (and {lines['goal']})))"
    )


def test_walks_are_legal_action_sequences_in_the_trace_format():
    examples = list(walk_examples(SPEC, 60, seed=0))
    reasons = set()
    for example in examples:
        domain = example["prompt"].splitlines()[0].removeprefix("domain: ")
        checker = prepare(parsed_domain(domain), parse_problem(problem_of(example["prompt"])))
        extraction, verdict = check_answer(checker, split_reasoning(example["completion"]).answer)
        assert 1 <= len(extraction.steps) <= SPEC.max_steps
        reasons.add(verdict.reason)
        split = split_reasoning(example["completion"])
        assert split.closed and 1 <= len(split.reasoning.splitlines()) <= SPEC.max_reasoning_lines
    assert reasons <= {Reason.OK, Reason.GOAL_NOT_REACHED}  # every step applies
    assert Reason.GOAL_NOT_REACHED in reasons  # the walks ignore the goal
    assert {e["prompt"].splitlines()[0] for e in examples} == {
        "domain: blocksworld",
        "domain: gripper",
    }
    lengths = {len(split_reasoning(e["completion"]).reasoning) for e in examples}
    assert len(lengths) > 10  # reasoning segments of varying length


def test_walks_depend_only_on_the_seed():
    assert list(walk_examples(SPEC, 5, seed=3)) == list(walk_examples(SPEC, 5, seed=3))
    assert list(walk_examples(SPEC, 5, seed=3)) != list(walk_examples(SPEC, 5, seed=4))
