"""ADL on states: conditions, conditional effects and derived predicates, evaluated lazily.

A state is a set of ground atoms such as `(on a b)`. Each condition is compiled once into a
closure of (state, env), where env binds variables to objects. A quantifier enumerates the
objects of its variables' types when a step is checked: nothing is grounded over the whole
problem ahead of time. Derived predicates are computed from a state one stratum at a time, each
to a fixpoint, as VAL and Fast Downward do, and only for a step or goal that tests them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Set

from iterdeploy.pddl.model import Atom, Condition, Derived, Formula, Literal, TypedName, render

Env = dict[str, str]
Test = Callable[[Set[str], Env], bool]


def ground_atom(atom: Atom, env: Env) -> str:
    """Return the text of `atom` with its variables replaced by their objects in `env`."""
    return "(" + " ".join((atom.predicate, *[env.get(arg, arg) for arg in atom.args])) + ")"


def atoms_of(condition: Condition) -> Iterator[Atom]:
    """Yield every atom of a condition, in text order."""
    if isinstance(condition, Literal):
        yield condition.atom
    else:
        for part in condition.parts:
            yield from atoms_of(part)


def variables_of(condition: Condition) -> Iterator[TypedName]:
    """Yield every quantified variable of a condition."""
    if isinstance(condition, Formula):
        yield from condition.variables
        for part in condition.parts:
            yield from variables_of(part)


class NotStratified(ValueError):
    """The derived predicates depend on each other through a negation."""


class Objects:
    """The objects of a task by type, for quantifiers.

    Compiled tests hold this table, not the `Evaluator` or the `Checker`, so that a checker
    forms no reference cycle and is freed as soon as it is dropped.
    """

    __slots__ = ("_ancestors", "_typed")

    def __init__(self, ancestors: dict[str, frozenset[str]]) -> None:
        self._ancestors = ancestors  # object or constant -> its types and their ancestors
        self._typed: dict[tuple[str, ...], list[str]] = {}

    def of(self, allowed: tuple[str, ...]) -> list[str]:
        """Return the objects and constants of the types `allowed`, sorted (cached)."""
        names = self._typed.get(allowed)
        if names is None:
            names = sorted(n for n, anc in self._ancestors.items() if not anc.isdisjoint(allowed))
            self._typed[allowed] = names
        return names

    def bindings(self, variables: tuple[TypedName, ...], env: Env) -> Iterator[Env]:
        """Yield `env` extended by every binding of `variables` to objects of their types."""
        if len(variables) == 1:  # the common case, without itertools.product
            name = variables[0].name
            for value in self.of(variables[0].types):
                inner = env.copy()
                inner[name] = value
                yield inner
            return
        domains = [self.of(variable.types) for variable in variables]
        names = [variable.name for variable in variables]
        for values in itertools.product(*domains):
            yield {**env, **dict(zip(names, values, strict=True))}


class Evaluator:
    """Compiles and evaluates conditions over one task's objects and derived predicates."""

    def __init__(self, objects: Objects, derived: tuple[Derived, ...]) -> None:
        self.objects = objects
        self.bindings = objects.bindings
        self._compiled: dict[Condition, Test] = {}
        self.derived = frozenset(rule.head.name for rule in derived)
        self._strata = [
            [(rule.head, self.compile(rule.body)) for rule in stratum]
            for stratum in _strata(derived)
        ]

    def compile(self, condition: Condition) -> Test:
        """Return the test of `condition` (cached: equal conditions share one closure)."""
        test = self._compiled.get(condition)
        if test is None:
            test = self._compiled[condition] = self._build(condition)
        return test

    def uses_derived(self, condition: Condition | None) -> bool:
        """Return whether `condition` tests a derived predicate (its state needs `closure`)."""
        if condition is None or not self.derived:
            return False
        return any(atom.predicate in self.derived for atom in atoms_of(condition))

    def closure(self, state: Set[str]) -> set[str]:
        """Return `state` plus every derived atom that holds in it."""
        full = set(state)
        for stratum in self._strata:
            changed = True
            while changed:
                changed = False
                for head, body in stratum:
                    for env in self.bindings(head.parameters, {}):
                        atom = "(" + " ".join((head.name, *env.values())) + ")"
                        if atom not in full and body(full, env):
                            full.add(atom)
                            changed = True
        return full

    def failures(self, condition: Condition, state: Set[str], env: Env) -> list[str]:
        """Return the ground parts of a condition that fail in `state`, for diagnostics.

        A failed conjunction lists its failed parts; a failed `forall` names its first failing
        ground instance; any other failed formula is given whole, with its variables bound.
        """
        if isinstance(condition, Literal):
            return [render(condition, env)]
        if condition.op == "and":
            out = []
            for part in condition.parts:
                if not self.compile(part)(state, env):
                    out.extend(self.failures(part, state, env))
            return out
        if condition.op == "forall":
            body = condition.parts[0]
            test = self.compile(body)
            for inner in self.bindings(condition.variables, env):
                if not test(state, inner):
                    return self.failures(body, state, inner)
        return [render(condition, env)]

    def _build(self, condition: Condition) -> Test:
        if isinstance(condition, Literal):
            return _literal(condition)
        tests = [self.compile(part) for part in condition.parts]
        op = condition.op
        if op == "and":
            return lambda state, env: all(test(state, env) for test in tests)
        if op == "or":
            return lambda state, env: any(test(state, env) for test in tests)
        if op == "not":
            inner = tests[0]
            return lambda state, env: not inner(state, env)
        if op == "imply":
            left, right = tests
            return lambda state, env: not left(state, env) or right(state, env)
        body, variables, bindings = tests[0], condition.variables, self.bindings
        if op == "forall":
            return lambda state, env: all(body(state, b) for b in bindings(variables, env))
        assert op == "exists", op
        return lambda state, env: any(body(state, b) for b in bindings(variables, env))


def _literal(literal: Literal) -> Test:
    atom, positive = literal.atom, literal.positive
    if atom.predicate == "=":
        left, right = atom.args
        return lambda state, env: (env.get(left, left) == env.get(right, right)) == positive
    args = atom.args
    if not any(arg.startswith("?") for arg in args):
        text = str(atom)
        return lambda state, env: (text in state) == positive
    head = "(" + atom.predicate + " "
    if len(args) == 1:  # one and two arguments are most atoms: no join, no list
        (one,) = args
        return lambda state, env: (head + env.get(one, one) + ")" in state) == positive
    if len(args) == 2:
        one, two = args
        return lambda state, env: (
            (head + env.get(one, one) + " " + env.get(two, two) + ")" in state) == positive
        )
    return lambda state, env: (ground_atom(atom, env) in state) == positive


def _strata(rules: tuple[Derived, ...]) -> list[list[Derived]]:
    """Return the rules grouped by stratum, lowest first; raise `NotStratified` on a cycle.

    A rule's head sits at least as high as each derived predicate its body tests, and strictly
    higher than one it tests under a negation (`not`, or the left of `imply`).
    """
    heads = {rule.head.name for rule in rules}
    level = dict.fromkeys(heads, 0)
    uses = [(rule.head.name, list(_polarities(rule.body, True))) for rule in rules]
    changed = True
    while changed:
        changed = False
        for head, deps in uses:
            for name, positive in deps:
                if name in heads and level[head] < level[name] + (not positive):
                    level[head] = level[name] + (not positive)
                    changed = True
                    if level[head] > len(heads):
                        raise NotStratified(head)
    top = max(level.values(), default=-1)
    return [[r for r in rules if level[r.head.name] == n] for n in range(top + 1)]


def _polarities(condition: Condition, positive: bool) -> Iterator[tuple[str, bool]]:
    """Yield (predicate, occurs positively) for each atom of a condition."""
    if isinstance(condition, Literal):
        yield condition.atom.predicate, positive == condition.positive
        return
    for index, part in enumerate(condition.parts):
        flip = condition.op == "not" or (condition.op == "imply" and index == 0)
        yield from _polarities(part, positive != flip)
