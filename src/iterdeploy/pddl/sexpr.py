"""S-expression reader for PDDL: comments, case folding and error locations.

Lists are `SList` objects that remember where they and each of their items start, so later
stages can point at the offending token. Symbols stay plain lower-case `str` for speed: the
IPC-2023 medium Rovers problems hold more than a million tokens.
"""

from __future__ import annotations

import re

from iterdeploy.errors import PDDLParseError

# A '?' always starts a new token, as in Fast Downward: `(aircraft?a)` is `(aircraft ?a)`.
# A byte-order mark (U+FEFF) separates tokens like a space, so a file may start with one.
_TOKEN = re.compile(r"(\()|(\))|(\??[^\s();?\ufeff]+|\?)|;[^\n]*")
MAX_DEPTH = 100  # PDDL needs ~10 levels; the limit keeps later recursive passes safe


class Source:
    """A PDDL text and its file name, turning character offsets into line and column."""

    __slots__ = ("text", "filename")

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename

    def locate(self, offset: int) -> tuple[int, int]:
        """Return the 1-based (line, column) of a character offset."""
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return line, column

    def item_offset(self, offset: int, index: int) -> int:
        """Return the offset of item `index` of the list whose '(' is at `offset`.

        The model keeps only the offset of each atom; this finds one of its arguments when an
        error needs it. Returns `offset` itself when the list has fewer items.
        """
        depth, count = 0, -1
        for match in _TOKEN.finditer(self.text, offset):
            kind = match.lastindex
            if kind == 2:
                depth -= 1
                if depth == 0:
                    break
            elif kind is not None:  # not a comment
                if depth == 1:
                    count += 1
                    if count == index:
                        return match.start()
                if kind == 1:
                    depth += 1
        return offset

    def error(
        self, message: str, offset: int, token: str | None = None, expected: str | None = None
    ) -> PDDLParseError:
        """Return a `PDDLParseError` located at `offset`."""
        line, column = self.locate(offset)
        return PDDLParseError(
            message,
            filename=self.filename,
            line=line,
            column=column,
            token=token,
            expected=expected,
        )


class SList(list):
    """A parenthesised list; `pos` is the offset of its '(' and `item_pos` those of its items."""

    __slots__ = ("pos", "item_pos")

    def __init__(self, pos: int) -> None:
        super().__init__()
        self.pos = pos
        self.item_pos: list[int] = []

    def offset(self, index: int) -> int:
        """Return the offset of item `index`, or of the list's own '(' when out of range."""
        return self.item_pos[index] if 0 <= index < len(self.item_pos) else self.pos


def read_sexprs(source: Source) -> list[SList | str]:
    """Return the top-level expressions of `source`, lower-cased, comments dropped."""
    top = SList(0)
    stack = [top]
    for match in _TOKEN.finditer(source.text.lower()):
        kind = match.lastindex
        if kind is None:  # a comment
            continue
        start = match.start()
        if kind == 1:
            if len(stack) > MAX_DEPTH:
                raise source.error(
                    f"lists nested deeper than {MAX_DEPTH}", start, "(", "flatter PDDL"
                )
            node = SList(start)
            stack[-1].append(node)
            stack[-1].item_pos.append(start)
            stack.append(node)
        elif kind == 2:
            if len(stack) == 1:
                raise source.error("unbalanced parentheses", start, ")", "'(' or end of file")
            stack.pop()
        else:
            stack[-1].append(match.group(3))
            stack[-1].item_pos.append(start)
    if len(stack) > 1:
        raise source.error(
            "unbalanced parentheses: this list is never closed",
            stack[-1].pos,
            "(",
            f"{len(stack) - 1} more ')' before end of file",
        )
    return list(top)
