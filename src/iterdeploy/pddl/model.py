"""The parsed form of PDDL domains and problems: frozen, hashable, comparable values.

Names are lower-case. Collections are tuples in file order, so that parse -> write -> parse
gives an equal object. Lookup tables (actions by name, type ancestry) are built by
`validate.prepare`, not stored here.

Conditions beyond a conjunction of literals (ADL: `or`, `imply`, `not` over a formula,
`forall`, `exists`) are `Formula` trees; effects under `forall` or `when` are `Effect` values.
An action keeps the literals of its top-level conjunction apart (`precondition`), so STRIPS
tasks are checked with set operations only.

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
class Formula:
    """A condition other than a literal: `op` is and, or, not, imply, forall or exists.

    `parts` are literals or formulas (one for not, two for imply, one body for a quantifier);
    `variables` are the quantified variables of forall and exists.
    """

    op: str
    parts: tuple[Literal | Formula, ...]
    variables: tuple[TypedName, ...] = ()

    def __str__(self) -> str:
        return render(self)


Condition = Literal | Formula


@dataclass(frozen=True, slots=True)
class Effect:
    """A universally quantified and/or conditional effect: for every binding of `variables`
    for which `condition` holds before the step (None: always), delete then add the atoms."""

    variables: tuple[TypedName, ...]
    condition: Condition | None
    add: tuple[Atom, ...]
    delete: tuple[Atom, ...]


@dataclass(frozen=True, slots=True)
class Derived:
    """A derived predicate rule `(:derived (p ?x) body)`: p holds where body holds."""

    head: Predicate
    body: Condition


@dataclass(frozen=True, slots=True)
class CostTerm:
    """The amount of `(increase (total-cost) X)`: a number, or a fluent such as `(dist ?a ?b)`."""

    value: float | None = None
    fluent: Atom | None = None

    def __str__(self) -> str:
        return str(self.fluent) if self.fluent is not None else format_number(self.value or 0.0)


@dataclass(frozen=True, slots=True)
class Action:
    """An action schema.

    `precondition` holds the literals of the top-level conjunction (none on derived
    predicates); `condition` the rest of it, or None. `add` and `delete` are the plain effects,
    `effects` the quantified and conditional ones.
    """

    name: str
    parameters: tuple[TypedName, ...]
    precondition: tuple[Literal, ...]
    add: tuple[Atom, ...]
    delete: tuple[Atom, ...]
    cost: CostTerm | None = None
    condition: Formula | None = None
    effects: tuple[Effect, ...] = ()


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
    derived: tuple[Derived, ...] = ()
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
    """A PDDL problem. `numeric_init` holds `(= (f a b) 3)` facts; `metric` is e.g. total-cost.

    `goal` holds the literals of the goal's top-level conjunction, `goal_condition` the rest.
    """

    name: str
    domain_name: str
    objects: tuple[TypedName, ...]
    init: tuple[Atom, ...]
    numeric_init: tuple[tuple[Atom, float], ...]
    goal: tuple[Literal, ...]
    metric: str | None = None  # the fluent minimised by `(:metric minimize (f))`, or None
    goal_condition: Formula | None = None  # the non-literal part of the goal, if any
    filename: str = field(default="<problem>", compare=False)
    text: str = field(default="", compare=False, repr=False)  # the parsed PDDL


def format_number(value: float) -> str:
    """Return `value` as PDDL text, without a trailing `.0` when it is integral."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def typed_text(items: tuple[TypedName, ...]) -> str:
    """Return `a b - t c - (either u v)`, grouping runs of names that share a type."""
    parts: list[str] = []
    for index, item in enumerate(items):
        parts.append(item.name)
        following = items[index + 1].types if index + 1 < len(items) else None
        if following != item.types and item.types != (OBJECT,):
            parts.extend(["-", type_text(item.types)])
        elif following != item.types and item.types == (OBJECT,) and following is not None:
            parts.extend(["-", OBJECT])
    return " ".join(parts)


def type_text(types: tuple[str, ...]) -> str:
    """Return a type reference: `t`, or `(either t u)`."""
    return types[0] if len(types) == 1 else f"(either {' '.join(types)})"


def render(condition: Condition, env: dict[str, str] | None = None) -> str:
    """Return the PDDL text of a condition, with the variables bound in `env` replaced."""
    if isinstance(condition, Literal):
        atom = condition.atom
        if env:
            atom = Atom(atom.predicate, tuple(env.get(a, a) for a in atom.args))
        return str(atom) if condition.positive else f"(not {atom})"
    if condition.variables and env:  # a quantified variable shadows an outer binding
        bound = {variable.name for variable in condition.variables}
        env = {name: value for name, value in env.items() if name not in bound}
    inner = " ".join(render(part, env) for part in condition.parts)
    if condition.variables:
        return f"({condition.op} ({typed_text(condition.variables)}) {inner})"
    return f"({condition.op} {inner})"
