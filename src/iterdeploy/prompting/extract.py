"""Read the plan out of raw model text, and score it with the validator.

The rule, in order (docs/pddl.md has the user-facing version):
1. The answer is the text after the last `</think>`; without one, the whole text (a
   Qwen3-Thinking-2507 output has no opening tag).
2. A *step line* is one `(action args)`, or several on one line, after an optional numbering
   (`1.`, `1)`, `Step 1:`, `0:`, `-`, `*`), with an optional `[duration]` and `; comment`.
3. `fenced`: if a ``` code block holds a step line, the plan comes from the last such block;
   otherwise `answer`: the plan comes from the whole answer.
4. The plan runs from the first to the last step line of that text. Prose before and after is
   ignored; a non-blank line *between* steps is kept as a step and the validator reports it as
   `unparsable`. VAL would skip it; we do not reward a plan with garbage inside it.
5. No step line at all: rule `none`, and the verdict is `unparsable` with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iterdeploy.pddl.plan import format_step
from iterdeploy.pddl.validate import Reason, Verdict

if TYPE_CHECKING:
    from iterdeploy.pddl.validate import Checker

THINK_END = "</think>"
THINK_START = "<think>"

_NUMBERING = re.compile(
    r"^\s*(?:[-*\u2022]\s*)?(?:(?:step\s*)?\d+(?:\.\d+)?\s*[.):]\s*)?", re.IGNORECASE
)
_GROUP = re.compile(r"\(\s*([^()\s;]+(?:\s+[^()\s;]+)*)\s*\)")
_STEPS_ONLY = re.compile(r"^(?:\(\s*[^()\s;]+(?:\s+[^()\s;]+)*\s*\)\s*)+$")
_DURATION = re.compile(r"\s*\[\s*\d+(?:\.\d*)?\s*\]\s*$")
_FENCE = re.compile(r"^\s*(?:```|~~~)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Split:
    """A model output cut at the last `</think>`; `closed` says whether that tag was there."""

    reasoning: str
    answer: str
    closed: bool


@dataclass(frozen=True, slots=True)
class Extraction:
    """The plan read from an answer: canonical steps (garbage lines kept verbatim), the rule
    that fired (`fenced`, `answer` or `none`) and, for `none`, why nothing was found."""

    steps: tuple[str, ...]
    rule: str
    error: str | None = None


def split_reasoning(text: str) -> Split:
    """Return the reasoning and the answer of a model output, cut at the last `</think>`.

    >>> split_reasoning("<think>hmm</think>(a b)")
    Split(reasoning='hmm', answer='(a b)', closed=True)
    >>> split_reasoning("(a b)").answer
    '(a b)'
    """
    cut = text.rfind(THINK_END)
    if cut < 0:
        return Split("", text, False)
    reasoning = text[:cut]
    start = reasoning.find(THINK_START)
    if start >= 0:
        reasoning = reasoning[start + len(THINK_START) :]
    return Split(reasoning.strip(), text[cut + len(THINK_END) :], True)


def extract_plan(answer: str) -> Extraction:
    """Return the plan in `answer` under the rule in this module's docstring.

    >>> extract_plan("Plan:\\n1. (Pick-Up A)\\n2. (stack a  b)\\nDone.").steps
    ('(pick-up a)', '(stack a b)')
    """
    block = _last_fenced_block(answer)
    rule, text = ("fenced", block) if block is not None else ("answer", answer)
    lines = text.splitlines()
    parsed = [_step_line(line) for line in lines]
    where = [i for i, steps in enumerate(parsed) if steps]
    if not where:
        return Extraction((), "none", "no line of the form (action arg ...) in the answer")
    steps: list[str] = []
    for index in range(where[0], where[-1] + 1):
        if parsed[index]:
            steps.extend(parsed[index])
        elif lines[index].strip():
            steps.append(lines[index].strip())  # garbage between steps: the validator rejects it
    return Extraction(tuple(steps), rule)


def check_answer(checker: Checker, answer: str) -> tuple[Extraction, Verdict]:
    """Return the extraction and the verdict of the answer part of one model output
    (`generation.base.Trace.answer`, i.e. `split_reasoning(text).answer`); never raises."""
    extraction = extract_plan(answer)
    if extraction.rule == "none":
        return extraction, Verdict(False, Reason.UNPARSABLE, None, extraction.error or "")
    return extraction, checker.validate(extraction.steps)


def _step_line(line: str) -> list[str]:
    """Return the canonical steps on `line`, or [] if it is not a step line."""
    code = line.split(";", 1)[0]
    code = _DURATION.sub("", code[_NUMBERING.match(code).end() :]).strip()
    if not code.startswith("(") or not _STEPS_ONLY.match(code):
        return []
    return [format_step(words[0], words[1:]) for words in map(str.split, _GROUP.findall(code))]


def _last_fenced_block(answer: str) -> str | None:
    """Return the last ``` block that holds a step line, or None."""
    fences = [m.start() for m in _FENCE.finditer(answer)]
    for closing in range(len(fences) - 1, 0, -1):
        if closing % 2 == 0:  # blocks are (fence 0, fence 1), (fence 2, fence 3), ...
            continue
        start = answer.find("\n", fences[closing - 1])
        if start < 0:
            continue
        block = answer[start + 1 : fences[closing]]
        if any(_step_line(line) for line in block.splitlines()):
            return block
    return None
