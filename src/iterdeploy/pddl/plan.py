"""Read IPC plan files: one `(action args)` per line, optional `t:` and `[d]`, `;` comments.

A line that is neither blank, a comment nor a step is kept as an unparsable step: VAL skips
such garbage, we do not, because the validator is a reward function and a plan with noise
between its steps is not the plan the model was asked for.
"""

from __future__ import annotations

import re

# `12.5: (move a b) [1.0] ; note` -> group 1 is the inside of the parentheses.
_STEP = re.compile(
    r"^\s*(?:\d+(?:\.\d*)?\s*:\s*)?\(\s*([^()\s;][^();]*?)\s*\)\s*(?:\[\s*\d+(?:\.\d*)?\s*\])?\s*$"
)


def plan_lines(text: str) -> list[str]:
    """Return the step lines of a plan file: blank lines and `;` comments dropped.

    A comment is removed from the end of a step line too, so `(a b) ; why` is a step. A
    leading byte-order mark is dropped.
    """
    out = []
    for line in text.removeprefix("\ufeff").splitlines():
        code = line.split(";", 1)[0].strip()
        if code:
            out.append(code)
    return out


def parse_step(line: str) -> tuple[str, tuple[str, ...]] | None:
    """Return (action, args) of one plan line, lower-cased, or None if it is not a step.

    >>> parse_step("3: (Unstack  B a) [1]")
    ('unstack', ('b', 'a'))
    >>> parse_step("unstack b a") is None
    True
    """
    inner = line[1:-1]
    if line[:1] == "(" and line[-1:] == ")" and not ("(" in inner or ")" in inner or ";" in inner):
        words = inner.lower().split()  # the common case, without the regex
    else:
        match = _STEP.match(line)
        if match is None:
            return None
        words = match.group(1).lower().split()
    if not words:
        return None
    return words[0], tuple(words[1:])


def format_step(name: str, args: tuple[str, ...] | list[str]) -> str:
    """Return the canonical text of a step: `(name arg1 arg2)`, lower-case, single-spaced."""
    return "(" + " ".join((name, *args)).lower() + ")"
