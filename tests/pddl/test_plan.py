"""IPC plan files: steps, timestamps, durations, comments; and the modules' doctests."""

from __future__ import annotations

import doctest

import pytest

import iterdeploy.pddl.plan as plan_module
import iterdeploy.prompting.extract as extract_module
from iterdeploy.pddl.plan import parse_step, plan_lines


def test_plan_lines_drop_blank_lines_and_comments() -> None:
    text = "; header\n\n0: (a x) [1] ; why\n  (B  Y)  \n;; cost = 2\n"
    assert plan_lines(text) == ["0: (a x) [1]", "(B  Y)"]


@pytest.mark.parametrize(
    ("line", "step"),
    [
        ("(move a b)", ("move", ("a", "b"))),
        ("0.5: (MOVE A B) [2.0]", ("move", ("a", "b"))),
        ("12:(noop)", ("noop", ())),
        ("(move a b) (move b a)", None),  # two steps on one plan-file line
        ("move a b", None),
        ("()", None),
        ("(move (a) b)", None),
    ],
)
def test_parse_step(line: str, step: tuple | None) -> None:
    assert parse_step(line) == step


@pytest.mark.parametrize("module", [plan_module, extract_module])
def test_docstring_examples_hold(module) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
