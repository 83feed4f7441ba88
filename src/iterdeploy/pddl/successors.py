"""Candidate ground actions of a state, for `Checker.applicable` (random walks, tests).

Each action's positive preconditions are joined against the state like a database query:
atoms are indexed by predicate and by each argument position, literals are ordered so that
each one shares variables with those before it, and parameters that no positive precondition
binds are enumerated over the objects of their type. Atoms of static predicates (never in an
effect) are indexed once from the initial state. The checker still tests every candidate
against the full precondition, so this module only has to never miss an applicable action.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from iterdeploy.pddl.formula import Objects
from iterdeploy.pddl.model import Action, Domain

Args = tuple[str, ...]
# predicate -> (all argument tuples, one {value: tuples} index per argument position)
Index = dict[str, tuple[list[Args], list[dict[str, list[Args]]]]]


class Successors:
    """Enumerates argument tuples that satisfy each action's positive preconditions."""

    def __init__(
        self,
        domain: Domain,
        objects: Objects,
        init: Iterable[tuple[str, Args]],
    ) -> None:
        changing = {a.predicate for act in domain.actions for a in (*act.add, *act.delete)}
        changing |= {
            a.predicate
            for act in domain.actions
            for effect in act.effects
            for a in (*effect.add, *effect.delete)
        }
        self._static_preds = {p.name for p in domain.predicates} - changing
        self._static = _index(atom for atom in init if atom[0] in self._static_preds)
        self._patterns = [(a.name, _pattern(a, self._static_preds)) for a in domain.actions]
        self._objects = objects
        self._params = {a.name: [p.types for p in a.parameters] for a in domain.actions}

    def candidates(self, atoms: Iterable[tuple[str, Args]]) -> Iterator[tuple[str, Args]]:
        """Yield (action, args) for every binding of the positive preconditions in `atoms`."""
        dynamic = _index(atom for atom in atoms if atom[0] not in self._static_preds)
        for name, pattern in self._patterns:
            binding: list[str | None] = [None] * len(self._params[name])
            for args in self._join(pattern, 0, binding, dynamic, self._params[name]):
                yield name, args

    def _join(self, pattern, depth, binding, dynamic, types) -> Iterator[Args]:
        if depth == len(pattern):
            yield from self._fill(binding, 0, types)
            return
        pred, slots = pattern[depth]
        table = self._static if pred in self._static_preds else dynamic
        for args in _lookup(table, pred, slots, binding):
            undo = []
            ok = len(args) == len(slots)
            for slot, value in zip(slots, args, strict=False):
                if not ok:
                    break
                if isinstance(slot, str):  # a constant
                    ok = slot == value
                elif binding[slot] is None:
                    binding[slot] = value
                    undo.append(slot)
                else:
                    ok = binding[slot] == value
            if ok:
                yield from self._join(pattern, depth + 1, binding, dynamic, types)
            for slot in undo:
                binding[slot] = None

    def _fill(self, binding: list[str | None], position: int, types) -> Iterator[Args]:
        """Yield complete argument tuples, enumerating typed objects for unbound parameters."""
        if position == len(binding):
            yield tuple(binding)  # type: ignore[arg-type]
            return
        if binding[position] is not None:
            yield from self._fill(binding, position + 1, types)
            return
        for name in self._objects.of(types[position]):
            binding[position] = name
            yield from self._fill(binding, position + 1, types)
        binding[position] = None


def _index(atoms: Iterable[tuple[str, Args]]) -> Index:
    index: Index = {}
    for pred, args in atoms:
        entry = index.get(pred)
        if entry is None:
            entry = index[pred] = ([], [{} for _ in args])
        entry[0].append(args)
        for position, value in enumerate(args[: len(entry[1])]):
            entry[1][position].setdefault(value, []).append(args)
    return index


def _lookup(table: Index, pred: str, slots, binding) -> list[Args]:
    """Return the atoms of `pred` that can match, using the first bound position if any."""
    entry = table.get(pred)
    if entry is None:
        return []
    for position, slot in enumerate(slots[: len(entry[1])]):
        value = slot if isinstance(slot, str) else binding[slot]
        if value is not None:
            return entry[1][position].get(value, [])
    return entry[0]


def _pattern(action: Action, static_preds: set[str]) -> list[tuple[str, list[int | str]]]:
    """Return the positive preconditions as (predicate, slots), in join order.

    A slot is a parameter index or a constant. Start from a changing predicate (few atoms,
    e.g. the robot's position), then always take the literal sharing most bound variables.
    """
    position = {p.name: i for i, p in enumerate(action.parameters)}
    literals = [
        (lit.atom.predicate, [position.get(arg, arg) for arg in lit.atom.args])
        for lit in action.precondition
        if lit.positive and lit.atom.predicate != "="
    ]
    ordered: list[tuple[str, list[int | str]]] = []
    bound: set[int] = set()
    while literals:

        def score(literal: tuple[str, list[int | str]]) -> tuple[int, int, int]:
            pred, slots = literal
            shared = sum(1 for s in slots if isinstance(s, str) or s in bound)
            return (shared, pred not in static_preds, -len(slots))

        best = max(literals, key=score)
        literals.remove(best)
        ordered.append(best)
        bound.update(s for s in best[1] if isinstance(s, int))
    return ordered
