"""Plan extraction from raw model text: the documented rule, and never an exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iterdeploy.pddl.parser import load_domain, load_problem
from iterdeploy.pddl.validate import Checker, Reason, prepare
from iterdeploy.prompting.extract import check_answer, extract_plan, split_reasoning

SOLUTION = ("(unstack b3 b2)", "(putdown b3)", "(unstack b2 b1)", "(putdown b2)")


@pytest.fixture(scope="module")
def checker(benchmarks: Path) -> Checker:
    folder = benchmarks / "ipc2023-learning" / "blocksworld"
    return prepare(
        load_domain(folder / "domain.pddl"), load_problem(folder / "training/easy/p05.pddl")
    )


def test_split_reasoning_uses_last_closing_tag() -> None:
    text = "I think </think> no wait </think>\n(putdown b3)"
    split = split_reasoning(text)
    assert split.closed
    assert split.reasoning == "I think </think> no wait"
    assert split.answer.strip() == "(putdown b3)"


def test_split_reasoning_without_tag_keeps_whole_text_as_answer() -> None:
    split = split_reasoning("(putdown b3)")
    assert (split.reasoning, split.answer, split.closed) == ("", "(putdown b3)", False)


@pytest.mark.parametrize(
    "answer",
    [
        "\n".join(SOLUTION),
        "Here is the plan:\n1. (UNSTACK b3 b2)\n2. (putdown B3)\n3. (unstack b2 b1)\n"
        "4. (putdown b2)\nThis plan puts every block on the table.",
        "Step 1: (unstack b3 b2)\nStep 2: (putdown b3)\nStep 3: (unstack b2 b1)\n"
        "Step 4:   ( putdown   b2 )",
        "- (unstack b3 b2)\n- (putdown b3)\n\n- (unstack b2 b1)\n- (putdown b2)\n",
        "0: (unstack b3 b2) [1]\n1: (putdown b3) [1]\n2: (unstack b2 b1) [1]\n3: (putdown b2) [1]",
        "(unstack b3 b2) (putdown b3)\n(unstack b2 b1) ; frees b1\n(putdown b2)",
    ],
)
def test_extract_plan_tolerates_numbering_case_spaces_prose(answer: str) -> None:
    extraction = extract_plan(answer)
    assert extraction.rule == "answer"
    assert extraction.steps == SOLUTION


def test_extract_plan_prefers_last_fenced_block_with_steps() -> None:
    answer = (
        "A first try:\n```\n(unstack b2 b1)\n```\nBetter:\n```pddl\n"
        + "\n".join(SOLUTION)
        + "\n```\n```\nno steps here\n```\n"
    )
    extraction = extract_plan(answer)
    assert (extraction.rule, extraction.steps) == ("fenced", SOLUTION)


def test_extract_plan_reports_none_when_nothing_plan_like() -> None:
    extraction = extract_plan("I could not find a plan. Unstack b3 from b2, then ...")
    assert extraction.rule == "none"
    assert extraction.steps == ()
    assert extraction.error


def test_garbage_between_steps_is_kept_and_rejected(checker: Checker) -> None:
    text = "</think>\n(unstack b3 b2)\n(putdown b3)\nnow the next block:\n"
    text += "(unstack b2 b1)\n(putdown b2)"
    extraction, verdict = check_answer(checker, split_reasoning(text).answer)
    assert extraction.steps[2] == "now the next block:"
    assert (verdict.valid, verdict.reason, verdict.step) == (False, Reason.UNPARSABLE, 2)


def test_check_answer_validates_the_answer_not_the_reasoning(checker: Checker) -> None:
    reasoning = "Maybe (unstack b2 b1)?\n(unstack b2 b1)\n"
    extraction, verdict = check_answer(
        checker, split_reasoning(reasoning + "</think>\n" + "\n".join(SOLUTION)).answer
    )
    assert extraction.steps == SOLUTION
    assert verdict.valid and verdict.length == 4


def test_check_answer_on_empty_answer_is_unparsable(checker: Checker) -> None:
    extraction, verdict = check_answer(
        checker, split_reasoning("<think>still thinking, then cut off").answer
    )
    assert extraction.rule == "none"
    assert (verdict.valid, verdict.reason, verdict.step) == (False, Reason.UNPARSABLE, None)


_ALPHABET = st.sampled_from(list("()[];:.-*`\n \t0123456789abAB?") + ["</think>", "<think>"])
_NOISE = st.lists(_ALPHABET, max_size=80).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=300), _NOISE))
def test_check_answer_never_raises_on_any_text(checker: Checker, text: str) -> None:
    extraction, verdict = check_answer(checker, split_reasoning(text).answer)
    assert isinstance(verdict.reason, Reason)
    assert verdict.valid == (verdict.reason is Reason.OK)
    assert (extraction.rule == "none") == (extraction.steps == ())


@settings(max_examples=200, deadline=None)
@given(
    cut=st.integers(0, 200),
    insert=st.text(max_size=20),
    where=st.integers(0, 200),
)
def test_check_answer_on_mutated_valid_output_gives_a_verdict(
    checker: Checker, cut: int, insert: str, where: int
) -> None:
    text = "<think>ok</think>\n" + "\n".join(f"{i + 1}. {s}" for i, s in enumerate(SOLUTION))
    where = min(where, len(text))
    mutated = (text[:where] + insert + text[where:])[: len(text) + len(insert) - cut % 40]
    extraction, verdict = check_answer(checker, split_reasoning(mutated).answer)
    assert verdict.length == len(extraction.steps)
    if extraction.rule != "none":
        assert verdict == checker.validate(extraction.steps)
    if extraction.steps == SOLUTION:  # a mutation inside prose or reasoning is harmless
        assert verdict.valid
