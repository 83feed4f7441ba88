"""The validator's compiled actions: an action schema as one format string (`Schema`), a
ground step as sets of atom strings (`Ground`, with its ADL part in `Extra`), and a plan line
that names no ground action (`Bad`). `pddl.validate.Checker` builds and caches them.
"""

from __future__ import annotations

from collections.abc import Callable

from iterdeploy.pddl.formula import Env, Evaluator, Test
from iterdeploy.pddl.model import Action, Atom, Formula
from iterdeploy.pddl.verdict import Reason


class Extra:
    """The ADL part of a ground action: its condition and conditional effects, per binding.

    `conditional` holds, for each binding of each conditional effect, (env, test, adds,
    deletes); `derived` says whether the tests need the state's derived atoms.
    """

    __slots__ = ("env", "condition", "test", "conditional", "derived")

    def __init__(
        self,
        env: Env,
        condition: Formula | None,
        test: Test | None,
        conditional: list[tuple[Env, Test, frozenset[str], frozenset[str]]],
        derived: bool,
    ) -> None:
        self.env = env
        self.condition = condition
        self.test = test
        self.conditional = conditional
        self.derived = derived


class Ground:
    """A ground action: precondition and effect atoms as strings, ready for set operations.

    `special` is set when a plain set test is not enough: a static (in)equality failed, the
    cost is undefined, or the action has an ADL part (`extra`).
    """

    __slots__ = (
        "text",
        "pre_pos",
        "pre_neg",
        "static_fail",
        "add",
        "delete",
        "cost",
        "extra",
        "special",
    )

    def __init__(
        self,
        text: str,
        pre_pos: frozenset[str],
        pre_neg: frozenset[str],
        static_fail: tuple[str, ...],
        add: frozenset[str],
        delete: frozenset[str],
        cost: float | None,
        extra: Extra | None = None,
    ) -> None:
        self.text = text  # canonical: "(name arg ...)"
        self.pre_pos = pre_pos
        self.pre_neg = pre_neg
        self.static_fail = static_fail  # failed (in)equalities, known at grounding time
        self.add = add
        self.delete = delete
        self.cost = cost  # None: its cost fluent is undefined in :init
        self.extra = extra
        self.special = bool(static_fail) or cost is None or extra is not None


class Bad:
    """A plan line that names no ground action of the task, and why (cached like `Ground`)."""

    __slots__ = ("reason", "detail")

    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail


class Schema:
    """An action schema compiled to one format string over its parameter indices.

    `atoms(*args)` gives all ground atoms of a step, newline-separated: the positive
    preconditions, then the negative ones, the adds and the deletes, split at `bounds`. One
    format call and one split per step are cheaper than one call per atom; names hold no
    whitespace, so the separator cannot occur inside an atom.
    """

    __slots__ = ("action", "types", "fits", "atoms", "bounds", "eq", "cost", "test", "effects")

    def __init__(
        self,
        action: Action,
        objects: dict[str, frozenset[str]],
        compile_atom: Callable[[Atom], str],
        evaluator: Evaluator,
    ) -> None:
        self.action = action
        self.test = evaluator.compile(action.condition) if action.condition is not None else None
        # Quantified and conditional effects: (forall variables, condition test or None, effect).
        self.effects = [
            (e.variables, None if e.condition is None else evaluator.compile(e.condition), e)
            for e in action.effects
        ]
        self.types = [param.types for param in action.parameters]
        # Per parameter, the objects whose types fit it: one set look-up per argument.
        self.fits = [
            frozenset(name for name, ancestors in objects.items() if not ancestors.isdisjoint(t))
            for t in self.types
        ]
        pre = [lit for lit in action.precondition if lit.atom.predicate != "="]
        parts = [
            [compile_atom(lit.atom) for lit in pre if lit.positive],
            [compile_atom(lit.atom) for lit in pre if not lit.positive],
            [compile_atom(atom) for atom in action.add],
            [compile_atom(atom) for atom in action.delete],
        ]
        self.atoms = "\n".join(a for part in parts for a in part).format  # one call per step
        ends = [len(parts[0])]
        for part in parts[1:]:
            ends.append(ends[-1] + len(part))
        self.bounds = tuple(ends)  # where pos, neg, add and delete end in the split atoms
        self.eq = [
            (compile_atom(lit.atom), lit.positive)
            for lit in action.precondition
            if lit.atom.predicate == "="
        ]
        fluent = action.cost.fluent if action.cost is not None else None
        self.cost = compile_atom(fluent) if fluent is not None else None
