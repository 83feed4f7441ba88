"""Conditions, effects and typed lists: the parts of PDDL that actions, goals and derived
predicates share, and the refusal by name of what the validator does not implement.

A condition is a `Literal` or a `Formula` (ADL); `split_condition` keeps the literals of its
top-level conjunction apart so STRIPS parts are checked with set operations. An effect is read
into plain adds and deletes plus `Effect` values for those under `forall` or `when`.
"""

from __future__ import annotations

from iterdeploy.pddl.model import (
    TOTAL_COST,
    Atom,
    Condition,
    CostTerm,
    Effect,
    Formula,
    Literal,
    TypedName,
)
from iterdeploy.pddl.sexpr import SList, Source

NUMERIC = "numeric fluents"
_UNSUPPORTED = {
    ":durative-action": "durative actions",
    ":process": "processes (PDDL+)",
    ":event": "events (PDDL+)",
    ":constraints": "state-trajectory constraints",
    ":observe": "sensing actions (:observe)",
    "preference": "preferences",
    **{op: NUMERIC for op in ("<", ">", "<=", ">=", "+", "-", "*", "/")},
    **{op: NUMERIC for op in ("increase", "decrease", "assign", "scale-up", "scale-down")},
}
_SUPPORTED_NOTE = "iterdeploy supports classical planning: STRIPS, ADL, derived predicates, costs"


def split_condition(
    condition: Condition | None, derived: frozenset[str]
) -> tuple[tuple[Literal, ...], Formula | None]:
    """Return (literals of the top-level conjunction, the rest as one `and`, or None).

    Literals on `derived` predicates stay in the rest: they are evaluated, not looked up.
    """
    if condition is None:
        return (), None
    is_and = isinstance(condition, Formula) and condition.op == "and"
    items = condition.parts if is_and else (condition,)
    literals, rest = [], []
    for item in items:
        if isinstance(item, Literal) and item.atom.predicate not in derived:
            literals.append(item)
        else:
            rest.append(item)
    return tuple(literals), (Formula("and", tuple(rest)) if rest else None)


def refuse_unsupported(src: Source, key: object, offset: int) -> None:
    """Raise a located error naming the feature if `key` introduces one we do not support."""
    if isinstance(key, str) and key in _UNSUPPORTED:
        raise unsupported(src, _UNSUPPORTED[key], offset, key)


def unsupported(
    src: Source, feature: str, offset: int, token: str, expected: str | None = None
) -> Exception:
    """Return the located error for a feature the validator does not implement."""
    return src.error(f"{feature} are not supported; {_SUPPORTED_NOTE}", offset, token, expected)


def symbols(src: Source, node: SList, start: int, what: str) -> list[str]:
    out = []
    for index in range(start, len(node)):
        item = node[index]
        if not isinstance(item, str):
            raise src.error(f"bad {node[0]} entry", node.offset(index), show(item), what)
        out.append(item)
    if not out:
        raise src.error(f"empty {node[0]}", node.pos, expected=what)
    return out


# ---- typed lists and declarations ------------------------------------------------------------


def show(node: object) -> str:
    """Return a short rendering of a node for error messages."""
    if node is None:
        return "nothing"
    if isinstance(node, list):
        text = "(" + " ".join(show(item) for item in node) + ")"
        return text if len(text) <= 60 else text[:57] + "..."
    return str(node)


def check_unique(src: Source, node: SList, names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise src.error(f"duplicate {what} {name!r}", node.pos, name, f"unique {what} names")
        seen.add(name)


def typed_list(
    src: Source, node: SList, start: int, what: str, unique: bool = True
) -> list[TypedName]:
    """Return `a b - t c - (either u v) d` as typed names (untyped ones are `object`).

    `unique=False` is for predicate declarations: logistics00 declares `(in ?obj ?obj)`.
    `boat -object`, with no space after the dash, reads as `boat - object`, as VAL and
    unified-planning read it: a name cannot start with '-'.
    """
    items: list[tuple[object, int]] = []
    for index in range(start, len(node)):
        item, offset = node[index], node.offset(index)
        if isinstance(item, str) and len(item) > 1 and item[0] == "-" and item[1].isalpha():
            items.extend([("-", offset), (item[1:], offset + 1)])
        else:
            items.append((item, offset))
    out: list[TypedName] = []
    pending: list[tuple[str, int]] = []  # names waiting for their type, with their offsets
    index = 0
    while index < len(items):
        item, offset = items[index]
        if item == "-":
            if index + 1 >= len(items) or not pending:
                raise src.error(
                    f"'-' must sit between {what} names and a type", offset, "-", "NAME ... - TYPE"
                )
            types = _type_ref(src, *items[index + 1])
            out.extend(TypedName(name, types, pos) for name, pos in pending)
            pending = []
            index += 2
            continue
        if not isinstance(item, str):
            raise src.error(f"bad {what} name", offset, show(item), f"a {what} name")
        is_var = item.startswith("?")
        if is_var != (what in ("parameter", "variable")):
            expected = f"a ?{what}" if is_var is False else f"a {what} name without '?'"
            raise src.error(f"bad {what} name", offset, item, expected)
        pending.append((item, offset))
        index += 1
    out.extend(TypedName(name, pos=pos) for name, pos in pending)
    if unique:
        check_unique(src, node, [t.name for t in out], what)
    return out


def _type_ref(src: Source, ref: object, offset: int) -> tuple[str, ...]:
    if isinstance(ref, str) and not ref.startswith("?"):
        return (ref,)
    if isinstance(ref, SList) and len(ref) > 1 and ref[0] == "either":
        return tuple(symbols(src, ref, 1, "type names"))
    raise src.error("bad type", offset, show(ref), "a type name or (either T ...)")


class Scope:
    """What names an expression may use: variables in scope and declared predicates.

    `predicates` maps names to arities (None: not checked, as in problem files); `derived`
    names the derived predicates, which actions may test but not change.
    """

    __slots__ = ("src", "variables", "predicates", "derived")

    def __init__(
        self,
        src: Source,
        variables: frozenset[str],
        predicates: dict[str, int] | None,
        derived: frozenset[str],
    ) -> None:
        self.src = src
        self.variables = variables
        self.predicates = predicates
        self.derived = derived

    def bind(self, names: list[str] | tuple[str, ...]) -> Scope:
        """Return this scope with more variables (action parameters, quantified variables)."""
        return Scope(self.src, self.variables | frozenset(names), self.predicates, self.derived)


def parse_atom(src: Source, node: object, offset: int, scope: Scope) -> Atom:
    """Return the atom `(p a ?x)`, checking variables and, where declared, arity."""
    if not (isinstance(node, SList) and node and isinstance(node[0], str)):
        raise src.error("bad atom", offset, show(node), "(predicate arg ...)")
    refuse_unsupported(src, node[0], node.pos)
    for index in range(1, len(node)):
        arg = node[index]
        if not isinstance(arg, str):
            raise unsupported(
                src,
                NUMERIC,
                node.offset(index),
                show(arg),
                "a name (a nested term is a numeric expression)",
            )
        if arg.startswith("?") and arg not in scope.variables:
            raise src.error(
                "undeclared variable",
                node.offset(index),
                arg,
                "a variable from :parameters or a quantifier",
            )
    if scope.predicates is not None and node[0] != "=":
        arity = scope.predicates.get(node[0])
        if arity is None:
            raise src.error(
                "undeclared predicate", node.pos, node[0], "a predicate from :predicates"
            )
        if arity != len(node) - 1:
            raise src.error(
                f"predicate {node[0]!r} takes {arity} arguments, got {len(node) - 1}",
                node.pos,
                show(node),
            )
    if node[0] == "=" and len(node) != 3:
        raise src.error("equality takes two arguments", node.pos, show(node), "(= a b)")
    return Atom(node[0], tuple(node[1:]), node.pos)


def parse_condition(src: Source, node: object, scope: Scope) -> Condition:
    """Return a condition: a literal or a `Formula`, with nested `and` flattened."""
    if not isinstance(node, SList):
        raise src.error("bad condition", 0, show(node), "(and ...) or a literal")
    if not node:
        return Formula("and", ())
    op = node[0]
    if op == "and":
        parts: list[Condition] = []
        for item in node[1:]:
            part = parse_condition(src, item, scope)
            is_and = isinstance(part, Formula) and part.op == "and"
            parts.extend(part.parts if is_and else [part])
        return Formula("and", tuple(parts))
    if op == "or":
        return Formula("or", tuple(parse_condition(src, item, scope) for item in node[1:]))
    if op in ("not", "imply"):
        count = 1 if op == "not" else 2
        if len(node) != count + 1:
            usage = "(not COND)" if op == "not" else "(imply COND COND)"
            raise src.error(f"'{op}' takes {count} argument(s)", node.pos, show(node), usage)
        inner = [parse_condition(src, item, scope) for item in node[1:]]
        if op == "not" and isinstance(inner[0], Literal):
            return Literal(inner[0].atom, not inner[0].positive)
        return Formula(op, tuple(inner))
    if op in ("forall", "exists"):
        variables = _quantified(src, node)
        body = parse_condition(src, node[2], scope.bind([v.name for v in variables]))
        return Formula(op, (body,), variables)
    return Literal(parse_atom(src, node, node.pos, scope), True)


def _quantified(src: Source, node: SList) -> tuple[TypedName, ...]:
    """Return the variables of `(forall (?x - t) BODY)` or `(exists ...)`, `when` alike."""
    if len(node) != 3 or not isinstance(node[1], SList):
        raise src.error(f"bad '{node[0]}'", node.pos, show(node), f"({node[0]} (?x - type) BODY)")
    return tuple(typed_list(src, node[1], 0, "variable"))


_Entry = tuple[tuple[TypedName, ...], "Condition | None", Atom, bool]


def parse_effect(
    src: Source, node: object, scope: Scope
) -> tuple[tuple[Atom, ...], tuple[Atom, ...], CostTerm | None, tuple[Effect, ...]]:
    """Return (plain adds, plain deletes, cost, quantified and conditional effects)."""
    entries: list[_Entry] = []
    costs: list[CostTerm] = []
    _effect_items(src, node, scope, (), None, entries, costs)
    add = tuple(
        atom
        for variables, cond, atom, positive in entries
        if not variables and cond is None and positive
    )
    delete = tuple(
        atom
        for variables, cond, atom, positive in entries
        if not variables and cond is None and not positive
    )
    groups: dict[tuple[tuple[TypedName, ...], Condition | None], tuple[list, list]] = {}
    for variables, cond, atom, positive in entries:
        if variables or cond is not None:
            group = groups.setdefault((variables, cond), ([], []))
            group[0 if positive else 1].append(atom)
    effects = tuple(Effect(v, c, tuple(a), tuple(d)) for (v, c), (a, d) in groups.items())
    return add, delete, (costs[0] if costs else None), effects


def _effect_items(
    src: Source,
    node: object,
    scope: Scope,
    variables: tuple[TypedName, ...],
    condition: Condition | None,
    entries: list[_Entry],
    costs: list[CostTerm],
) -> None:
    """Collect the atoms of an effect, each with the forall variables and `when` around it."""
    if not isinstance(node, SList):
        raise src.error("bad effect", 0, show(node), "(and ...), (not ATOM) or ATOM")
    op = node[0] if node else "and"
    if op == "and":
        for item in node[1:]:
            _effect_items(src, item, scope, variables, condition, entries, costs)
    elif op == "forall":
        bound = _quantified(src, node)
        inner = scope.bind([v.name for v in bound])
        _effect_items(src, node[2], inner, variables + bound, condition, entries, costs)
    elif op == "when":
        if len(node) != 3:
            raise src.error("bad 'when'", node.pos, show(node), "(when COND EFFECT)")
        test = parse_condition(src, node[1], scope)
        if condition is not None:
            test = Formula("and", (condition, test))
        _effect_items(src, node[2], scope, variables, test, entries, costs)
    elif op == "increase" and len(node) == 3 and node[1] == [TOTAL_COST]:
        if variables or condition is not None or costs:
            raise src.error(
                "a cost increase must appear once, outside forall and when",
                node.pos,
                "increase",
                "one (increase (total-cost) X) in the action's top-level effect",
            )
        costs.append(_increase(src, node, scope))
    elif op == "not":
        if len(node) != 2:
            raise src.error("'not' takes one atom", node.pos, show(node), "(not (p ...))")
        entries.append(
            (variables, condition, _effect_atom(src, node[1], node.offset(1), scope), False)
        )
    else:
        entries.append((variables, condition, _effect_atom(src, node, node.pos, scope), True))


def _effect_atom(src: Source, node: object, offset: int, scope: Scope) -> Atom:
    atom = parse_atom(src, node, offset, scope)
    if atom.predicate == "=":
        raise src.error("equality cannot be an effect", offset, show(node))
    if atom.predicate in scope.derived:
        raise src.error(
            f"derived predicate {atom.predicate!r} cannot be an effect",
            offset,
            show(node),
            "a predicate that no :derived rule defines",
        )
    return atom


def _increase(src: Source, node: SList, scope: Scope) -> CostTerm:
    amount = node[2]
    if isinstance(amount, str):
        return CostTerm(value=parse_float(src, amount, node.offset(2)))
    if isinstance(amount, SList) and amount and isinstance(amount[0], str):
        refuse_unsupported(src, amount[0], amount.pos)
        for index in range(1, len(amount)):
            arg = amount[index]
            if not isinstance(arg, str) or (arg.startswith("?") and arg not in scope.variables):
                raise src.error("bad cost term", amount.offset(index), show(arg), "a parameter")
        return CostTerm(fluent=Atom(amount[0], tuple(amount[1:]), amount.pos))
    raise src.error("bad cost", node.offset(2), show(amount), "a number or (fluent args)")


def parse_float(src: Source, token: str, offset: int) -> float:
    try:
        return float(token)
    except ValueError:
        raise src.error("bad number", offset, token, "a number") from None
