"""Write `Domain` and `Problem` values back to PDDL text.

The output is canonical (lower-case, two-space indents, file order kept), so
`parse(write(parse(text)))` equals `parse(text)` and equal values give byte-identical text.
"""

from __future__ import annotations

from iterdeploy.pddl.model import (
    OBJECT,
    TOTAL_COST,
    Action,
    Domain,
    Literal,
    Predicate,
    Problem,
    TypedName,
    format_number,
)


def write_domain(domain: Domain) -> str:
    """Return the PDDL text of `domain`."""
    lines = [f"(define (domain {domain.name})"]
    if domain.requirements:
        lines.append(f"  (:requirements {' '.join(domain.requirements)})")
    if domain.types:
        lines.append(f"  (:types {_typed(domain.types)})")
    if domain.constants:
        lines.append(f"  (:constants {_typed(domain.constants)})")
    lines.append(f"  (:predicates {' '.join(_declaration(p) for p in domain.predicates)})")
    if domain.functions:
        functions = " ".join(f"{_declaration(f)} - number" for f in domain.functions)
        lines.append(f"  (:functions {functions})")
    lines.extend(_action(action) for action in domain.actions)
    return "\n".join(lines) + ")\n"


def write_problem(problem: Problem) -> str:
    """Return the PDDL text of `problem`."""
    lines = [f"(define (problem {problem.name})", f"  (:domain {problem.domain_name})"]
    if problem.objects:
        lines.append(f"  (:objects {_typed(problem.objects)})")
    lines.append("  (:init")
    lines.extend(f"    {atom}" for atom in problem.init)
    lines.extend(
        f"    (= {fluent} {format_number(value)})" for fluent, value in problem.numeric_init
    )
    lines.append("  )")
    lines.append(f"  (:goal {_conjunction(problem.goal)})")
    if problem.metric is not None:
        lines.append(f"  (:metric minimize ({problem.metric}))")
    return "\n".join(lines) + ")\n"


def write_plan(steps: list[str] | tuple[str, ...], cost: float | None = None) -> str:
    """Return an IPC plan file: one step per line, then a `; cost = N` comment."""
    total = len(steps) if cost is None else cost
    return "".join(f"{step}\n" for step in steps) + f"; cost = {format_number(total)}\n"


def _typed(items: tuple[TypedName, ...]) -> str:
    """Return `a b - t c - (either u v)`, grouping runs of names that share a type."""
    parts: list[str] = []
    for index, item in enumerate(items):
        parts.append(item.name)
        following = items[index + 1].types if index + 1 < len(items) else None
        if following != item.types and item.types != (OBJECT,):
            parts.extend(["-", _type_ref(item.types)])
        elif following != item.types and item.types == (OBJECT,) and following is not None:
            parts.extend(["-", OBJECT])
    return " ".join(parts)


def _type_ref(types: tuple[str, ...]) -> str:
    return types[0] if len(types) == 1 else f"(either {' '.join(types)})"


def _declaration(predicate: Predicate) -> str:
    return "(" + " ".join([predicate.name, _typed(predicate.parameters)]).strip() + ")"


def _conjunction(literals: tuple[Literal, ...]) -> str:
    return _conjunction_text([str(lit) for lit in literals])


def _action(action: Action) -> str:
    effects = [str(atom) for atom in action.add] + [f"(not {atom})" for atom in action.delete]
    if action.cost is not None:
        effects.append(f"(increase ({TOTAL_COST}) {action.cost})")
    lines = [
        f"  (:action {action.name}",
        f"    :parameters ({_typed(action.parameters)})",
        f"    :precondition {_conjunction(action.precondition)}",
        f"    :effect {_conjunction_text(effects)})",
    ]
    return "\n".join(lines)


def _conjunction_text(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "(and " + " ".join(items) + ")"  # "(and )" if empty
