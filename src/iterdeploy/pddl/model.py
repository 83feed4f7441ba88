"""The parsed form of PDDL domains and problems: frozen, hashable, comparable values.

Names are lower-case. Collections are tuples in file order, so that parse -> write -> parse
gives an equal object. Lookup tables (actions by name, type ancestry) are built by
`validate.prepare`, not stored here.

Parsed values remember where they were written, for the errors `validate.prepare` raises after
parsing: `pos` is the character offset of a name or of an atom's '(' (-1 when not parsed), and
a domain or problem keeps its `text`. Neither takes part in equality, hashing or repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OBJECT = "object"  # the root of every type hierarchy
TOTAL_COST = "total-cost"  # the numeric fluent of :action-costs


@dataclass(frozen=True, slots=True)
class TypedName:
    """A name with its type(s): a variable (`?x`), an object, a constant or a type.

    `types` holds one type, or several for `(either a b)`.
    """

    name: str
    types: tuple[str, ...] = (OBJECT,)
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Atom:
    """A predicate applied to arguments (variables, objects or constants); `=` is equality."""

    predicate: str
    args: tuple[str, ...] = ()
    pos: int = field(default=-1, compare=False, repr=False)

    def __str__(self) -> str:
        return "(" + " ".join((self.predicate, *self.args)) + ")"


@dataclass(frozen=True, slots=True)
class Predicate:
    """A predicate or numeric-function declaration: a name and typed parameters."""

    name: str
    parameters: tuple[TypedName, ...] = ()


@dataclass(frozen=True, slots=True)
class Literal:
    """An atom or its negation, in a precondition or a goal."""

    atom: Atom
    positive: bool = True

    def __str__(self) -> str:
        return str(self.atom) if self.positive else f"(not {self.atom})"


@dataclass(frozen=True, slots=True)
class CostTerm:
    """The amount of `(increase (total-cost) X)`: a number, or a fluent such as `(dist ?a ?b)`."""

    value: float | None = None
    fluent: Atom | None = None

    def __str__(self) -> str:
        return str(self.fluent) if self.fluent is not None else format_number(self.value or 0.0)


@dataclass(frozen=True, slots=True)
class Action:
    """An action schema: STRIPS with negative preconditions, equality and action costs."""

    name: str
    parameters: tuple[TypedName, ...]
    precondition: tuple[Literal, ...]
    add: tuple[Atom, ...]
    delete: tuple[Atom, ...]
    cost: CostTerm | None = None


@dataclass(frozen=True, slots=True)
class Domain:
    """A PDDL domain. `types` lists each declared type with its parent type(s)."""

    name: str
    requirements: tuple[str, ...]
    types: tuple[TypedName, ...]
    constants: tuple[TypedName, ...]
    predicates: tuple[Predicate, ...]
    functions: tuple[Predicate, ...]  # numeric fluents, e.g. total-cost
    actions: tuple[Action, ...]
    filename: str = field(default="<domain>", compare=False)
    text: str = field(default="", compare=False, repr=False)  # the parsed PDDL

    def action(self, name: str) -> Action | None:
        """Return the action schema called `name` (lower-case), or None."""
        for action in self.actions:
            if action.name == name:
                return action
        return None


@dataclass(frozen=True, slots=True)
class Problem:
    """A PDDL problem. `numeric_init` holds `(= (f a b) 3)` facts; `metric` is e.g. total-cost."""

    name: str
    domain_name: str
    objects: tuple[TypedName, ...]
    init: tuple[Atom, ...]
    numeric_init: tuple[tuple[Atom, float], ...]
    goal: tuple[Literal, ...]
    metric: str | None = None  # the fluent minimised by `(:metric minimize (f))`, or None
    filename: str = field(default="<problem>", compare=False)
    text: str = field(default="", compare=False, repr=False)  # the parsed PDDL


def format_number(value: float) -> str:
    """Return `value` as PDDL text, without a trailing `.0` when it is integral."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
