"""Write `Domain` and `Problem` values back to PDDL text.

The output is canonical (lower-case, two-space indents, file order kept), so
`parse(write(parse(text)))` equals `parse(text)` and equal values give byte-identical text.
"""

from __future__ import annotations

from iterdeploy.pddl.model import (
    TOTAL_COST,
    Action,
    Derived,
    Domain,
    Effect,
    Formula,
    Literal,
    Predicate,
    Problem,
    format_number,
    render,
    typed_text,
)


def write_domain(domain: Domain) -> str:
    """Return the PDDL text of `domain`."""
    lines = [f"(define (domain {domain.name})"]
    if domain.requirements:
        lines.append(f"  (:requirements {' '.join(domain.requirements)})")
    if domain.types:
        lines.append(f"  (:types {typed_text(domain.types)})")
    if domain.constants:
        lines.append(f"  (:constants {typed_text(domain.constants)})")
    lines.append(f"  (:predicates {' '.join(_declaration(p) for p in domain.predicates)})")
    if domain.functions:
        functions = " ".join(f"{_declaration(f)} - number" for f in domain.functions)
        lines.append(f"  (:functions {functions})")
    lines.extend(_derived(rule) for rule in domain.derived)
    lines.extend(_action(action) for action in domain.actions)
    return "\n".join(lines) + ")\n"


def write_problem(problem: Problem) -> str:
    """Return the PDDL text of `problem`."""
    lines = [f"(define (problem {problem.name})", f"  (:domain {problem.domain_name})"]
    if problem.objects:
        lines.append(f"  (:objects {typed_text(problem.objects)})")
    lines.append("  (:init")
    lines.extend(f"    {atom}" for atom in problem.init)
    lines.extend(
        f"    (= {fluent} {format_number(value)})" for fluent, value in problem.numeric_init
    )
    lines.append("  )")
    lines.append(f"  (:goal {_conjunction(problem.goal, problem.goal_condition)})")
    if problem.metric is not None:
        lines.append(f"  (:metric minimize ({problem.metric}))")
    return "\n".join(lines) + ")\n"


def write_plan(steps: list[str] | tuple[str, ...], cost: float | None = None) -> str:
    """Return an IPC plan file: one step per line, then a `; cost = N` comment."""
    total = len(steps) if cost is None else cost
    return "".join(f"{step}\n" for step in steps) + f"; cost = {format_number(total)}\n"


def _declaration(predicate: Predicate) -> str:
    return "(" + " ".join([predicate.name, typed_text(predicate.parameters)]).strip() + ")"


def _conjunction(literals: tuple[Literal, ...], rest: Formula | None = None) -> str:
    items = [str(lit) for lit in literals]
    items += [render(part) for part in rest.parts] if rest is not None else []
    return _conjunction_text(items)


def _derived(rule: Derived) -> str:
    return f"  (:derived {_declaration(rule.head)} {render(rule.body)})"


def _action(action: Action) -> str:
    effects = [str(atom) for atom in action.add] + [f"(not {atom})" for atom in action.delete]
    effects.extend(_effect(effect) for effect in action.effects)
    if action.cost is not None:
        effects.append(f"(increase ({TOTAL_COST}) {action.cost})")
    lines = [
        f"  (:action {action.name}",
        f"    :parameters ({typed_text(action.parameters)})",
        f"    :precondition {_conjunction(action.precondition, action.condition)}",
        f"    :effect {_conjunction_text(effects)})",
    ]
    return "\n".join(lines)


def _effect(effect: Effect) -> str:
    atoms = [str(atom) for atom in effect.add] + [f"(not {atom})" for atom in effect.delete]
    text = _conjunction_text(atoms)
    if effect.condition is not None:
        text = f"(when {render(effect.condition)} {text})"
    if effect.variables:
        text = f"(forall ({typed_text(effect.variables)}) {text})"
    return text


def _conjunction_text(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "(and " + " ".join(items) + ")"  # "(and )" if empty
