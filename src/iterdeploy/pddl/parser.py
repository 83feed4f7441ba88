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

from pathlib import Path

from iterdeploy.errors import ConfigError
from iterdeploy.pddl.conditions import (
    NUMERIC,
    Scope,
    check_unique,
    parse_atom,
    parse_condition,
    parse_effect,
    parse_float,
    refuse_unsupported,
    show,
    split_condition,
    symbols,
    typed_list,
    unsupported,
)
from iterdeploy.pddl.model import (
    OBJECT,
    Action,
    Atom,
    Derived,
    Domain,
    Predicate,
    Problem,
    TypedName,
)
from iterdeploy.pddl.sexpr import SList, Source, read_sexprs


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
            requirements = tuple(symbols(src, node, 1, "a requirement flag such as :strips"))
        elif key == ":types":
            types = _types(src, node)
        elif key == ":constants":
            constants = tuple(typed_list(src, node, 1, "constant"))
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
    check_unique(src, body, [a.name for a in actions], "action")
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
            domain_name = symbols(src, node, 1, "the domain name")[0]
        elif key == ":requirements":
            symbols(src, node, 1, "a requirement flag")
        elif key == ":objects":
            objects = tuple(typed_list(src, node, 1, "object"))
        elif key == ":init":
            _init(src, node, init, numeric)
        elif key == ":goal":
            scope = Scope(src, frozenset(), None, frozenset())
            goal = parse_condition(src, _single(src, node, "the goal condition"), scope)
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
        raise src.error(f"not a PDDL {kind}", offset, show(node), "(define ...)")
    if len(exprs) > 1:
        extra = exprs[1]
        offset = extra.pos if isinstance(extra, SList) else len(src.text)
        raise src.error("text after the closing ')' of define", offset, show(extra), "end of file")
    return node


def _header_name(src: Source, body: SList, kind: str) -> str:
    head = body[1] if len(body) > 1 else None
    if not (isinstance(head, SList) and len(head) == 2 and head[0] == kind):
        raise src.error(f"bad {kind} header", body.offset(1), show(head), f"({kind} NAME)")
    name = head[1]
    if not isinstance(name, str):
        raise src.error(f"bad {kind} name", head.offset(1), show(name), "a name")
    return name


def _sections(src: Source, body: SList) -> list[tuple[str, SList]]:
    sections = []
    for index in range(2, len(body)):
        node = body[index]
        if not (isinstance(node, SList) and node and isinstance(node[0], str)):
            raise src.error("expected a section", body.offset(index), show(node), "(:keyword ...)")
        refuse_unsupported(src, node[0], node.pos)
        sections.append((node[0], node))
    return sections


def _unknown_section(src: Source, node: SList, key: str, allowed: str) -> Exception:
    return src.error("unknown section", node.pos, key, f"one of {allowed}")


def _single(src: Source, node: SList, what: str) -> SList:
    if len(node) != 2:
        raise src.error(f"{node[0]} takes exactly one expression", node.pos, expected=what)
    return node[1]


def _types(src: Source, node: SList) -> tuple[TypedName, ...]:
    """Return the declared types with their parents, as the planners read them.

    `object` listed as a type of its own (tidybot) is the root and is skipped. A type declared
    twice (storage: `area - object` and `area - surface`) gets both parents, with a warning.
    """
    merged: dict[str, TypedName] = {}
    for item in typed_list(src, node, 1, "type", unique=False):
        if item.name == OBJECT:
            if item.types != (OBJECT,):
                raise src.error("the root type 'object' cannot have a parent", item.pos, OBJECT)
            continue
        first = merged.get(item.name)
        if first is None:
            merged[item.name] = item
            continue
        line, column = src.locate(item.pos)
        import logging  # here: `iterdeploy validate` starts faster without it

        logging.getLogger(__name__).warning(
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
                    "bad function type", node.offset(index + 1), show(node[index + 1 :]), "number"
                )
            index += 2
            continue
        if not (isinstance(item, SList) and item and isinstance(item[0], str)):
            raise src.error(
                f"bad {what} declaration", node.offset(index), show(item), f"({what} ?x - type)"
            )
        params = tuple(typed_list(src, item, 1, "parameter", unique=False))
        out.append(Predicate(item[0], params))
        index += 1
    check_unique(src, node, [p.name for p in out], what)
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


def _action(src: Source, node: SList, scope: Scope) -> Action:
    if len(node) < 2 or not isinstance(node[1], str):
        raise src.error("action without a name", node.pos, expected="(:action NAME ...)")
    name, parts = node[1], {}  # ":parameters" etc. -> its expression
    index = 2
    while index < len(node):
        key = node[index]
        refuse_unsupported(src, key, node.offset(index))
        if key not in (":parameters", ":precondition", ":effect") or index + 1 >= len(node):
            raise src.error(
                f"bad part of action {name!r}",
                node.offset(index),
                show(key),
                ":parameters, :precondition or :effect followed by a value",
            )
        parts[key] = node[index + 1]
        index += 2
    params_node = parts.get(":parameters", SList(node.pos))
    if not isinstance(params_node, SList):
        raise src.error("bad :parameters", node.pos, show(params_node), "(?x - type ...)")
    params = tuple(typed_list(src, params_node, 0, "parameter"))
    scope = scope.bind([p.name for p in params])
    pre = parts.get(":precondition")
    condition = parse_condition(src, pre, scope) if pre is not None else None
    literals, rest = split_condition(condition, scope.derived)
    effect = parts.get(":effect")
    add, delete, cost, effects = (), (), None, ()
    if effect is not None:
        add, delete, cost, effects = parse_effect(src, effect, scope)
    return Action(name, params, literals, add, delete, cost, rest, effects)


def _derived(src: Source, node: SList, predicates: dict[str, int]) -> Derived:
    """Return `(:derived (p ?x - t) body)`; an undeclared p is declared by its head."""
    head = node[1] if len(node) == 3 else None
    if not (isinstance(head, SList) and head and isinstance(head[0], str)):
        raise src.error("bad derived predicate", node.pos, show(node), "(:derived (p ?x) COND)")
    params = tuple(typed_list(src, head, 1, "parameter"))
    arity = predicates.setdefault(head[0], len(params))
    if arity != len(params):
        raise src.error(
            f"derived predicate {head[0]!r} takes {arity} arguments, got {len(params)}",
            head.pos,
            show(head),
        )
    scope = Scope(src, frozenset(p.name for p in params), predicates, frozenset())
    return Derived(Predicate(head[0], params), parse_condition(src, node[2], scope))


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
            raise unsupported(src, "timed initial literals", offset, "at")
        if isinstance(item, SList) and item and item[0] == "=":
            if len(item) != 3 or not isinstance(item[2], str):
                raise src.error("bad numeric fact", offset, show(item), "(= (f a b) NUMBER)")
            fluent = parse_atom(src, item[1], item.offset(1), scope)
            numeric.append((fluent, parse_float(src, item[2], item.offset(2))))
        else:
            atoms.append(parse_atom(src, item, offset, scope))


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
        show(node),
        "(:metric minimize (total-cost))",
    )
