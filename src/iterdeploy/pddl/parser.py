"""Parse PDDL domains and problems into `model` values.

Supported: :strips, :typing (hierarchies, `either`), :negative-preconditions, :equality,
constants and :action-costs (`increase total-cost` by a number or a static fluent). Conditions
are conjunctions of literals. Anything beyond that (`or`, `forall`, conditional effects, ...)
is rejected with a located `PDDLParseError` rather than silently misread. Requirement flags
are recorded but not enforced: many IPC files under-declare them.
"""

from __future__ import annotations

from pathlib import Path

from iterdeploy.errors import ConfigError
from iterdeploy.pddl.model import (
    OBJECT,
    TOTAL_COST,
    Action,
    Atom,
    CostTerm,
    Domain,
    Literal,
    Predicate,
    Problem,
    TypedName,
)
from iterdeploy.pddl.sexpr import SList, Source, read_sexprs

_UNSUPPORTED = {
    "or": "disjunctive conditions",
    "imply": "implications",
    "exists": "existential conditions",
    "forall": "universal quantifiers",
    "when": "conditional effects",
    ":derived": "derived predicates",
    ":durative-action": "durative actions",
    ":constraints": "state-trajectory constraints",
}
_SUPPORTED_NOTE = "iterdeploy supports STRIPS, typing, negation, equality and action costs"


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
            types = tuple(_typed_list(src, node, 1, "type"))
        elif key == ":constants":
            constants = tuple(_typed_list(src, node, 1, "constant"))
        elif key == ":predicates":
            predicates = tuple(_declarations(src, node, "predicate"))
        elif key == ":functions":
            functions = tuple(_declarations(src, node, "function"))
        elif key != ":action":
            raise _unknown_section(src, node, key, ":requirements :types :constants :predicates")
    _check_types(src, body, types)
    table = {p.name: len(p.parameters) for p in predicates}
    actions = tuple(_action(src, node, table) for key, node in sections if key == ":action")
    _check_unique(src, body, [a.name for a in actions], "action")
    return Domain(
        name,
        requirements,
        types,
        constants,
        predicates,
        functions,
        actions,
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
            goal = tuple(_condition(src, _single(src, node, "the goal condition"), None))
        elif key == ":metric":
            metric = _metric(src, node)
        else:
            raise _unknown_section(src, node, key, ":domain :objects :init :goal :metric")
    if domain_name is None or goal is None:
        missing = "(:domain NAME)" if domain_name is None else "(:goal ...)"
        raise src.error("problem has no " + missing + " section", body.pos, expected=missing)
    return Problem(
        name,
        domain_name,
        objects,
        tuple(init),
        tuple(numeric),
        goal,
        metric,
        filename=filename,
        text=text,
    )


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
        if node[0] in _UNSUPPORTED:
            raise src.error(
                f"{_UNSUPPORTED[node[0]]} are not supported; {_SUPPORTED_NOTE}", node.pos, node[0]
            )
        sections.append((node[0], node))
    return sections


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
    """
    out: list[TypedName] = []
    pending: list[tuple[str, int]] = []  # names waiting for their type, with their offsets
    index = start
    while index < len(node):
        item = node[index]
        if item == "-":
            if index + 1 >= len(node) or not pending:
                raise src.error(
                    f"'-' must sit between {what} names and a type",
                    node.offset(index),
                    "-",
                    "NAME ... - TYPE",
                )
            types = _type_ref(src, node, index + 1)
            out.extend(TypedName(name, types, pos) for name, pos in pending)
            pending = []
            index += 2
            continue
        if not isinstance(item, str):
            raise src.error(f"bad {what} name", node.offset(index), _show(item), f"a {what} name")
        is_var = item.startswith("?")
        if is_var != (what == "parameter"):
            expected = "a ?variable" if what == "parameter" else f"a {what} name without '?'"
            raise src.error(f"bad {what} name", node.offset(index), item, expected)
        pending.append((item, node.offset(index)))
        index += 1
    out.extend(TypedName(name, pos=pos) for name, pos in pending)
    if unique:
        _check_unique(src, node, [t.name for t in out], what)
    return out


def _type_ref(src: Source, node: SList, index: int) -> tuple[str, ...]:
    ref = node[index]
    if isinstance(ref, str) and not ref.startswith("?"):
        return (ref,)
    if isinstance(ref, SList) and len(ref) > 1 and ref[0] == "either":
        return tuple(_symbols(src, ref, 1, "type names"))
    raise src.error("bad type", node.offset(index), _show(ref), "a type name or (either T ...)")


def _declarations(src: Source, node: SList, what: str) -> list[Predicate]:
    out = []
    index = 1
    while index < len(node):
        item = node[index]
        if what == "function" and item == "-":  # `(total-cost) - number`
            if index + 1 >= len(node) or node[index + 1] != "number":
                raise src.error("bad function type", node.offset(index + 1), expected="number")
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


def _check_types(src: Source, body: SList, types: tuple[TypedName, ...]) -> None:
    """Reject type cycles, which would make subtype tests loop."""
    parents = {t.name: t.types for t in types}
    for start in parents:
        seen, todo = set(), [start]
        while todo:
            name = todo.pop()
            for parent in parents.get(name, ()):
                if parent == start:
                    raise src.error(f"type {start!r} is its own ancestor", body.pos, start)
                if parent not in seen and parent != OBJECT:
                    seen.add(parent)
                    todo.append(parent)


# ---- actions, conditions, effects ----------------------------------------------------------


def _action(src: Source, node: SList, predicates: dict[str, int]) -> Action:
    if len(node) < 2 or not isinstance(node[1], str):
        raise src.error("action without a name", node.pos, expected="(:action NAME ...)")
    name, parts = node[1], {}  # ":parameters" etc. -> its expression
    index = 2
    while index < len(node):
        key = node[index]
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
    scope = Scope(src, {p.name for p in params}, predicates)
    pre = parts.get(":precondition")
    precondition = tuple(_condition(src, pre, scope)) if pre is not None else ()
    effect = parts.get(":effect")
    add, delete, cost = _effect(src, effect, scope) if effect is not None else ((), (), None)
    return Action(name, params, precondition, add, delete, cost)


class Scope:
    """What names an expression may use: action variables and declared predicates."""

    __slots__ = ("src", "variables", "predicates")

    def __init__(self, src: Source, variables: set[str], predicates: dict[str, int]) -> None:
        self.src = src
        self.variables = variables
        self.predicates = predicates


def _atom(src: Source, node: object, offset: int, scope: Scope | None) -> Atom:
    """Return the atom `(p a ?x)`; with a scope, check variables and arity."""
    if not (isinstance(node, SList) and node and isinstance(node[0], str)):
        raise src.error("bad atom", offset, _show(node), "(predicate arg ...)")
    if node[0] in _UNSUPPORTED:
        raise src.error(
            f"{_UNSUPPORTED[node[0]]} are not supported; {_SUPPORTED_NOTE}", node.pos, node[0]
        )
    for index in range(1, len(node)):
        arg = node[index]
        if not isinstance(arg, str):
            raise src.error("nested term in atom", node.offset(index), _show(arg), "a name")
        if arg.startswith("?") and (scope is None or arg not in scope.variables):
            raise src.error(
                "undeclared variable", node.offset(index), arg, "a variable from :parameters"
            )
    if scope is not None and node[0] != "=":
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


def _condition(src: Source, node: object, scope: Scope | None) -> list[Literal]:
    """Return a conjunction of literals, flattening nested `and`."""
    offset = node.pos if isinstance(node, SList) else 0
    if not isinstance(node, SList):
        raise src.error("bad condition", offset, _show(node), "(and ...) or a literal")
    if not node:
        return []
    if node[0] == "and":
        out: list[Literal] = []
        for item in node[1:]:
            out.extend(_condition(src, item, scope))
        return out
    if node[0] == "not":
        if len(node) != 2:
            raise src.error("'not' takes one atom", node.pos, _show(node), "(not (p ...))")
        inner = node[1]
        if isinstance(inner, SList) and inner and inner[0] in ("not", "and"):
            raise src.error(
                f"negation of '{inner[0]}' is not supported", inner.pos, inner[0], "an atom"
            )
        return [Literal(_atom(src, inner, node.offset(1), scope), False)]
    return [Literal(_atom(src, node, offset, scope), True)]


def _effect(
    src: Source, node: object, scope: Scope
) -> tuple[tuple[Atom, ...], tuple[Atom, ...], CostTerm | None]:
    items = node[1:] if isinstance(node, SList) and node and node[0] == "and" else [node]
    add, delete, cost = [], [], None
    for item in items:
        if isinstance(item, SList) and item and item[0] == "increase":
            if cost is not None:
                raise src.error("two cost increases in one action", item.pos, "increase")
            cost = _increase(src, item, scope)
        elif isinstance(item, SList) and item and item[0] == "not":
            if len(item) != 2:
                raise src.error("'not' takes one atom", item.pos, _show(item), "(not (p ...))")
            delete.append(_atom(src, item[1], item.offset(1), scope))
        else:
            offset = item.pos if isinstance(item, SList) else 0
            atom = _atom(src, item, offset, scope)
            if atom.predicate == "=":
                raise src.error("equality cannot be an effect", offset, _show(item))
            add.append(atom)
    return tuple(add), tuple(delete), cost


def _increase(src: Source, node: SList, scope: Scope) -> CostTerm:
    if len(node) != 3 or node[1] != [TOTAL_COST]:
        raise src.error(
            "only (increase (total-cost) X) is supported",
            node.pos,
            _show(node),
            "(increase (total-cost) N)",
        )
    amount = node[2]
    if isinstance(amount, str):
        return CostTerm(value=_float(src, amount, node.offset(2)))
    if isinstance(amount, SList) and amount and isinstance(amount[0], str):
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
    for index in range(1, len(node)):
        item = node[index]
        offset = node.offset(index)
        if isinstance(item, SList) and item and item[0] == "=":
            if len(item) != 3 or not isinstance(item[2], str):
                raise src.error("bad numeric fact", offset, _show(item), "(= (f a b) NUMBER)")
            fluent = _atom(src, item[1], item.offset(1), None)
            numeric.append((fluent, _float(src, item[2], item.offset(2))))
        else:
            atoms.append(_atom(src, item, offset, None))


def _metric(src: Source, node: SList) -> str:
    if (
        len(node) == 3
        and node[1] == "minimize"
        and isinstance(node[2], SList)
        and len(node[2]) == 1
    ):
        return node[2][0]
    raise src.error("unsupported metric", node.pos, _show(node), "(:metric minimize (total-cost))")
