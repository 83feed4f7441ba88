"""Parse PDDL domains and problems into `model` values.

Supported: :strips, :typing (hierarchies, `either`), :negative-preconditions, :equality,
constants, :action-costs (`increase total-cost` by a number or a static fluent) and ADL as VAL
and Fast Downward read it: `and`, `or`, `not`, `imply`, `forall`, `exists` over any condition,
conditional (`when`) and universally quantified effects, and :derived predicates. Numeric
fluents, durative actions, processes and the like are rejected by name with a located
`PDDLParseError` rather than silently misread. Requirement flags are recorded but not
enforced: many IPC files under-declare them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from iterdeploy.errors import ConfigError
from iterdeploy.pddl.model import (
    OBJECT,
    TOTAL_COST,
    Action,
    Atom,
    Condition,
    CostTerm,
    Derived,
    Domain,
    Effect,
    Formula,
    Literal,
    Predicate,
    Problem,
    TypedName,
)
from iterdeploy.pddl.sexpr import SList, Source, read_sexprs

logger = logging.getLogger(__name__)

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
_CONNECTIVES = ("and", "or", "not", "imply", "forall", "exists")


def load_domain(path: str | Path) -> Domain:
    """Return the domain parsed from the file at `path`."""
    return parse_domain(read_file(path), filename=str(path))


def load_problem(path: str | Path) -> Problem:
    """Return the problem parsed from the file at `path`."""
    return parse_problem(read_file(path), filename=str(path))


def parse_domain(text: str, filename: str = "<domain>") -> Domain:
    """Return the `Domain` written in `text`; raise `PDDLParseError` on malformed input."""
    src = Source(text, filename)
    body = _define(src, read_sexprs(src), "domain")
    name = _header_name(src, body, "domain")
    sections = _sections(src, body)
    requirements, types, constants, functions = (), (), (), ()
    predicates: tuple[Predicate, ...] = ()
    for key, node in sections:
        if key == ":requirements":
            requirements = tuple(_symbols(src, node, 1, "a requirement flag such as :strips"))
        elif key == ":types":
            types = _types(src, node)
        elif key == ":constants":
            constants = tuple(_typed_list(src, node, 1, "constant"))
        elif key == ":predicates":
            predicates = tuple(_declarations(src, node, "predicate"))
        elif key == ":functions":
            functions = tuple(_declarations(src, node, "function"))
        elif key not in (":action", ":derived"):
            allowed = ":requirements :types :constants :predicates :functions :action :derived"
            raise _unknown_section(src, node, key, allowed)
    table = {p.name: len(p.parameters) for p in predicates}
    derived = tuple(_derived(src, node, table) for key, node in sections if key == ":derived")
    declared = {p.name for p in predicates}  # a derived predicate may be declared by its rule
    predicates += tuple(rule.head for rule in derived if rule.head.name not in declared)
    scope = Scope(src, frozenset(), table, frozenset(d.head.name for d in derived))
    actions = tuple(_action(src, node, scope) for key, node in sections if key == ":action")
    _check_unique(src, body, [a.name for a in actions], "action")
    return Domain(
        name,
        requirements,
        types,
        constants,
        predicates,
        functions,
        actions,
        derived,
        filename=filename,
        text=text,
    )


def parse_problem(text: str, filename: str = "<problem>") -> Problem:
    """Return the `Problem` written in `text`; raise `PDDLParseError` on malformed input."""
    src = Source(text, filename)
    body = _define(src, read_sexprs(src), "problem")
    name = _header_name(src, body, "problem")
    domain_name, objects, init, numeric, goal, metric = None, (), [], [], None, None
    for key, node in _sections(src, body):
        if key == ":domain":
            domain_name = _symbols(src, node, 1, "the domain name")[0]
        elif key == ":requirements":
            _symbols(src, node, 1, "a requirement flag")
        elif key == ":objects":
            objects = tuple(_typed_list(src, node, 1, "object"))
        elif key == ":init":
            _init(src, node, init, numeric)
        elif key == ":goal":
            scope = Scope(src, frozenset(), None, frozenset())
            goal = _condition(src, _single(src, node, "the goal condition"), scope)
        elif key == ":metric":
            metric = _metric(src, node)
        else:
            raise _unknown_section(src, node, key, ":domain :objects :init :goal :metric")
    if domain_name is None or goal is None:
        missing = "(:domain NAME)" if domain_name is None else "(:goal ...)"
        raise src.error("problem has no " + missing + " section", body.pos, expected=missing)
    literals, rest = split_condition(goal, frozenset())
    return Problem(
        name,
        domain_name,
        objects,
        tuple(init),
        tuple(numeric),
        literals,
        metric,
        rest,
        filename=filename,
        text=text,
    )


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


# ---- structure --------------------------------------------------------------------------


def read_file(path: str | Path, what: str = "PDDL") -> str:
    """Return the text of a PDDL or plan file; raise `ConfigError` if it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(
            f"cannot read {what} file {str(path)!r}: {exc.strerror}; check the path"
        ) from exc


def _define(src: Source, exprs: list[SList | str], kind: str) -> SList:
    """Return the single `(define ...)` list of a file."""
    if not exprs:
        raise src.error(f"empty {kind} file", 0, expected=f"(define ({kind} NAME) ...)")
    node = exprs[0]
    if not isinstance(node, SList) or not node or node[0] != "define":
        offset = node.pos if isinstance(node, SList) else 0
        raise src.error(f"not a PDDL {kind}", offset, _show(node), "(define ...)")
    if len(exprs) > 1:
        extra = exprs[1]
        offset = extra.pos if isinstance(extra, SList) else len(src.text)
        raise src.error("text after the closing ')' of define", offset, _show(extra), "end of file")
    return node


def _header_name(src: Source, body: SList, kind: str) -> str:
    head = body[1] if len(body) > 1 else None
    if not (isinstance(head, SList) and len(head) == 2 and head[0] == kind):
        raise src.error(f"bad {kind} header", body.offset(1), _show(head), f"({kind} NAME)")
    name = head[1]
    if not isinstance(name, str):
        raise src.error(f"bad {kind} name", head.offset(1), _show(name), "a name")
    return name


def _sections(src: Source, body: SList) -> list[tuple[str, SList]]:
    sections = []
    for index in range(2, len(body)):
        node = body[index]
        if not (isinstance(node, SList) and node and isinstance(node[0], str)):
            raise src.error("expected a section", body.offset(index), _show(node), "(:keyword ...)")
        _refuse_unsupported(src, node[0], node.pos)
        sections.append((node[0], node))
    return sections


def _refuse_unsupported(src: Source, key: object, offset: int) -> None:
    """Raise a located error naming the feature if `key` introduces one we do not support."""
    if isinstance(key, str) and key in _UNSUPPORTED:
        raise src.error(f"{_UNSUPPORTED[key]} are not supported; {_SUPPORTED_NOTE}", offset, key)


def _unknown_section(src: Source, node: SList, key: str, allowed: str) -> Exception:
    return src.error("unknown section", node.pos, key, f"one of {allowed}")


def _single(src: Source, node: SList, what: str) -> SList:
    if len(node) != 2:
        raise src.error(f"{node[0]} takes exactly one expression", node.pos, expected=what)
    return node[1]


def _symbols(src: Source, node: SList, start: int, what: str) -> list[str]:
    out = []
    for index in range(start, len(node)):
        item = node[index]
        if not isinstance(item, str):
            raise src.error(f"bad {node[0]} entry", node.offset(index), _show(item), what)
        out.append(item)
    if not out:
        raise src.error(f"empty {node[0]}", node.pos, expected=what)
    return out


def _show(node: object) -> str:
    """Return a short rendering of a node for error messages."""
    if node is None:
        return "nothing"
    if isinstance(node, list):
        text = "(" + " ".join(_show(item) for item in node) + ")"
        return text if len(text) <= 60 else text[:57] + "..."
    return str(node)


def _check_unique(src: Source, node: SList, names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise src.error(f"duplicate {what} {name!r}", node.pos, name, f"unique {what} names")
        seen.add(name)


# ---- typed lists and declarations ------------------------------------------------------------


def _typed_list(
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
            raise src.error(f"bad {what} name", offset, _show(item), f"a {what} name")
        is_var = item.startswith("?")
        if is_var != (what in ("parameter", "variable")):
            expected = f"a ?{what}" if is_var is False else f"a {what} name without '?'"
            raise src.error(f"bad {what} name", offset, item, expected)
        pending.append((item, offset))
        index += 1
    out.extend(TypedName(name, pos=pos) for name, pos in pending)
    if unique:
        _check_unique(src, node, [t.name for t in out], what)
    return out


def _type_ref(src: Source, ref: object, offset: int) -> tuple[str, ...]:
    if isinstance(ref, str) and not ref.startswith("?"):
        return (ref,)
    if isinstance(ref, SList) and len(ref) > 1 and ref[0] == "either":
        return tuple(_symbols(src, ref, 1, "type names"))
    raise src.error("bad type", offset, _show(ref), "a type name or (either T ...)")


def _types(src: Source, node: SList) -> tuple[TypedName, ...]:
    """Return the declared types with their parents, as the planners read them.

    `object` listed as a type of its own (tidybot) is the root and is skipped. A type declared
    twice (storage: `area - object` and `area - surface`) gets both parents, with a warning.
    """
    merged: dict[str, TypedName] = {}
    for item in _typed_list(src, node, 1, "type", unique=False):
        if item.name == OBJECT:
            if item.types != (OBJECT,):
                raise src.error("the root type 'object' cannot have a parent", item.pos, OBJECT)
            continue
        first = merged.get(item.name)
        if first is None:
            merged[item.name] = item
            continue
        line, column = src.locate(item.pos)
        logger.warning(
            "%s:%d:%d: type %r declared again; it gets both parents, as in Fast Downward",
            src.filename,
            line,
            column,
            item.name,
        )
        parents = first.types + tuple(t for t in item.types if t not in first.types)
        merged[item.name] = TypedName(item.name, parents, first.pos)
    types = tuple(merged.values())
    _check_types(src, types)
    return types


def _declarations(src: Source, node: SList, what: str) -> list[Predicate]:
    out = []
    index = 1
    while index < len(node):
        item = node[index]
        if what == "function" and item == "-":  # `(total-cost) - number`
            if index + 1 >= len(node) or node[index + 1] != "number":
                raise src.error(
                    "bad function type", node.offset(index + 1), _show(node[index + 1 :]), "number"
                )
            index += 2
            continue
        if not (isinstance(item, SList) and item and isinstance(item[0], str)):
            raise src.error(
                f"bad {what} declaration", node.offset(index), _show(item), f"({what} ?x - type)"
            )
        params = tuple(_typed_list(src, item, 1, "parameter", unique=False))
        out.append(Predicate(item[0], params))
        index += 1
    _check_unique(src, node, [p.name for p in out], what)
    return out


def _check_types(src: Source, types: tuple[TypedName, ...]) -> None:
    """Reject type cycles, which would make subtype tests loop; point at the declaration."""
    parents = {t.name: t.types for t in types}
    for declared in types:
        seen, todo = set(), [declared.name]
        while todo:
            name = todo.pop()
            for parent in parents.get(name, ()):
                if parent == declared.name:
                    raise src.error(
                        f"type {parent!r} is its own ancestor", declared.pos, parent, "no cycle"
                    )
                if parent not in seen and parent != OBJECT:
                    seen.add(parent)
                    todo.append(parent)


# ---- actions, conditions, effects ----------------------------------------------------------


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


def _action(src: Source, node: SList, scope: Scope) -> Action:
    if len(node) < 2 or not isinstance(node[1], str):
        raise src.error("action without a name", node.pos, expected="(:action NAME ...)")
    name, parts = node[1], {}  # ":parameters" etc. -> its expression
    index = 2
    while index < len(node):
        key = node[index]
        _refuse_unsupported(src, key, node.offset(index))
        if key not in (":parameters", ":precondition", ":effect") or index + 1 >= len(node):
            raise src.error(
                f"bad part of action {name!r}",
                node.offset(index),
                _show(key),
                ":parameters, :precondition or :effect followed by a value",
            )
        parts[key] = node[index + 1]
        index += 2
    params_node = parts.get(":parameters", SList(node.pos))
    if not isinstance(params_node, SList):
        raise src.error("bad :parameters", node.pos, _show(params_node), "(?x - type ...)")
    params = tuple(_typed_list(src, params_node, 0, "parameter"))
    scope = scope.bind([p.name for p in params])
    pre = parts.get(":precondition")
    condition = _condition(src, pre, scope) if pre is not None else None
    literals, rest = split_condition(condition, scope.derived)
    effect = parts.get(":effect")
    add, delete, cost, effects = (), (), None, ()
    if effect is not None:
        add, delete, cost, effects = _effect(src, effect, scope)
    return Action(name, params, literals, add, delete, cost, rest, effects)


def _derived(src: Source, node: SList, predicates: dict[str, int]) -> Derived:
    """Return `(:derived (p ?x - t) body)`; an undeclared p is declared by its head."""
    head = node[1] if len(node) == 3 else None
    if not (isinstance(head, SList) and head and isinstance(head[0], str)):
        raise src.error("bad derived predicate", node.pos, _show(node), "(:derived (p ?x) COND)")
    params = tuple(_typed_list(src, head, 1, "parameter"))
    arity = predicates.setdefault(head[0], len(params))
    if arity != len(params):
        raise src.error(
            f"derived predicate {head[0]!r} takes {arity} arguments, got {len(params)}",
            head.pos,
            _show(head),
        )
    scope = Scope(src, frozenset(p.name for p in params), predicates, frozenset())
    return Derived(Predicate(head[0], params), _condition(src, node[2], scope))


def _atom(src: Source, node: object, offset: int, scope: Scope) -> Atom:
    """Return the atom `(p a ?x)`, checking variables and, where declared, arity."""
    if not (isinstance(node, SList) and node and isinstance(node[0], str)):
        raise src.error("bad atom", offset, _show(node), "(predicate arg ...)")
    _refuse_unsupported(src, node[0], node.pos)
    for index in range(1, len(node)):
        arg = node[index]
        if not isinstance(arg, str):
            raise src.error(
                f"{NUMERIC} are not supported; {_SUPPORTED_NOTE}",
                node.offset(index),
                _show(arg),
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
                _show(node),
            )
    if node[0] == "=" and len(node) != 3:
        raise src.error("equality takes two arguments", node.pos, _show(node), "(= a b)")
    return Atom(node[0], tuple(node[1:]), node.pos)


def _condition(src: Source, node: object, scope: Scope) -> Condition:
    """Return a condition: a literal or a `Formula`, with nested `and` flattened."""
    if not isinstance(node, SList):
        raise src.error("bad condition", 0, _show(node), "(and ...) or a literal")
    if not node:
        return Formula("and", ())
    op = node[0]
    if op == "and":
        parts: list[Condition] = []
        for item in node[1:]:
            part = _condition(src, item, scope)
            is_and = isinstance(part, Formula) and part.op == "and"
            parts.extend(part.parts if is_and else [part])
        return Formula("and", tuple(parts))
    if op == "or":
        return Formula("or", tuple(_condition(src, item, scope) for item in node[1:]))
    if op in ("not", "imply"):
        count = 1 if op == "not" else 2
        if len(node) != count + 1:
            usage = "(not COND)" if op == "not" else "(imply COND COND)"
            raise src.error(f"'{op}' takes {count} argument(s)", node.pos, _show(node), usage)
        inner = [_condition(src, item, scope) for item in node[1:]]
        if op == "not" and isinstance(inner[0], Literal):
            return Literal(inner[0].atom, not inner[0].positive)
        return Formula(op, tuple(inner))
    if op in ("forall", "exists"):
        variables = _quantified(src, node)
        body = _condition(src, node[2], scope.bind([v.name for v in variables]))
        return Formula(op, (body,), variables)
    return Literal(_atom(src, node, node.pos, scope), True)


def _quantified(src: Source, node: SList) -> tuple[TypedName, ...]:
    """Return the variables of `(forall (?x - t) BODY)` or `(exists ...)`, `when` alike."""
    if len(node) != 3 or not isinstance(node[1], SList):
        raise src.error(f"bad '{node[0]}'", node.pos, _show(node), f"({node[0]} (?x - type) BODY)")
    return tuple(_typed_list(src, node[1], 0, "variable"))


_Entry = tuple[tuple[TypedName, ...], "Condition | None", Atom, bool]


def _effect(
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
        raise src.error("bad effect", 0, _show(node), "(and ...), (not ATOM) or ATOM")
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
            raise src.error("bad 'when'", node.pos, _show(node), "(when COND EFFECT)")
        test = _condition(src, node[1], scope)
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
            raise src.error("'not' takes one atom", node.pos, _show(node), "(not (p ...))")
        entries.append(
            (variables, condition, _effect_atom(src, node[1], node.offset(1), scope), False)
        )
    else:
        entries.append((variables, condition, _effect_atom(src, node, node.pos, scope), True))


def _effect_atom(src: Source, node: object, offset: int, scope: Scope) -> Atom:
    atom = _atom(src, node, offset, scope)
    if atom.predicate == "=":
        raise src.error("equality cannot be an effect", offset, _show(node))
    if atom.predicate in scope.derived:
        raise src.error(
            f"derived predicate {atom.predicate!r} cannot be an effect",
            offset,
            _show(node),
            "a predicate that no :derived rule defines",
        )
    return atom


def _increase(src: Source, node: SList, scope: Scope) -> CostTerm:
    amount = node[2]
    if isinstance(amount, str):
        return CostTerm(value=_float(src, amount, node.offset(2)))
    if isinstance(amount, SList) and amount and isinstance(amount[0], str):
        _refuse_unsupported(src, amount[0], amount.pos)
        for index in range(1, len(amount)):
            arg = amount[index]
            if not isinstance(arg, str) or (arg.startswith("?") and arg not in scope.variables):
                raise src.error("bad cost term", amount.offset(index), _show(arg), "a parameter")
        return CostTerm(fluent=Atom(amount[0], tuple(amount[1:]), amount.pos))
    raise src.error("bad cost", node.offset(2), _show(amount), "a number or (fluent args)")


def _float(src: Source, token: str, offset: int) -> float:
    try:
        return float(token)
    except ValueError:
        raise src.error("bad number", offset, token, "a number") from None


# ---- problem sections ------------------------------------------------------------------------


def _init(src: Source, node: SList, atoms: list[Atom], numeric: list[tuple[Atom, float]]) -> None:
    scope = Scope(src, frozenset(), None, frozenset())
    for index in range(1, len(node)):
        item = node[index]
        offset = node.offset(index)
        if (
            isinstance(item, SList)
            and len(item) == 3
            and item[0] == "at"
            and str(item[1])[:1].isdigit()
        ):
            raise src.error(
                f"timed initial literals are not supported; {_SUPPORTED_NOTE}", offset, "at"
            )
        if isinstance(item, SList) and item and item[0] == "=":
            if len(item) != 3 or not isinstance(item[2], str):
                raise src.error("bad numeric fact", offset, _show(item), "(= (f a b) NUMBER)")
            fluent = _atom(src, item[1], item.offset(1), scope)
            numeric.append((fluent, _float(src, item[2], item.offset(2))))
        else:
            atoms.append(_atom(src, item, offset, scope))


def _metric(src: Source, node: SList) -> str:
    if (
        len(node) == 3
        and node[1] == "minimize"
        and isinstance(node[2], SList)
        and len(node[2]) == 1
    ):
        return node[2][0]
    raise src.error(
        f"this metric needs {NUMERIC}, which are not supported",
        node.pos,
        _show(node),
        "(:metric minimize (total-cost))",
    )
