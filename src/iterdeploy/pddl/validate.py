"""Sequential plan validation: the reward function of the loop.

`prepare(domain, problem)` checks the task once and returns a `Checker`. The checker grounds
actions lazily, caching each plan line it has seen, so validating many plans of one task costs
a dictionary look-up and three set operations per step. Semantics follow VAL: a step is
applicable when its positive preconditions hold and its negated ones do not; its effect
deletes, then adds; the goal is checked after the last step. Any plan text gives a `Verdict`.
ADL parts of a step (quantifiers, disjunctions, conditional effects, derived predicates) are
evaluated by `formula.Evaluator` only for the steps that have them, as they are met.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from iterdeploy.pddl.checks import TaskChecks
from iterdeploy.pddl.formula import (
    Evaluator,
    NotStratified,
    Objects,
    Test,
    ground_atom,
)
from iterdeploy.pddl.ground import Bad, Extra, Ground, Schema
from iterdeploy.pddl.model import (
    TOTAL_COST,
    Action,
    Atom,
    Domain,
    Formula,
    Literal,
    Problem,
)
from iterdeploy.pddl.plan import format_step, parse_step, plan_lines
from iterdeploy.pddl.successors import Successors
from iterdeploy.pddl.verdict import Reason, Verdict

__all__ = ["Checker", "Reason", "Verdict", "prepare", "validate_plan"]

_CACHE_LIMIT = 20_000  # cached plan lines per checker before the cache is reset


def prepare(domain: Domain, problem: Problem) -> Checker:
    """Return a `Checker` for one task; raise `PDDLParseError` if problem and domain disagree."""
    return Checker(domain, problem)


def validate_plan(domain: Domain, problem: Problem, plan: str | Sequence[str]) -> Verdict:
    """Return the verdict of `plan` (plan-file text or a list of steps) on one task."""
    return prepare(domain, problem).validate(plan)


class Checker:
    """A prepared task: validates plans and exposes the transition system for random walks."""

    def __init__(self, domain: Domain, problem: Problem) -> None:
        self.domain = domain
        self.problem = problem
        self._checks = TaskChecks(domain, problem)
        self._objects = self._checks.objects
        try:
            self._formulas = Evaluator(Objects(self._objects), domain.derived)
        except NotStratified as exc:
            raise self._checks.error(
                "domain",
                f"derived predicate {exc.args[0]!r} depends on itself through a negation",
                "stratified :derived rules, as VAL and Fast Downward require",
            ) from exc
        for rule in domain.derived:
            params = {p.name for p in rule.head.parameters}
            self._checks.condition(rule.body, params, f"derived predicate {rule.head.name!r}")
        self._schemas = {a.name: self._compile(a) for a in domain.actions}
        self._numeric = {str(atom): value for atom, value in problem.numeric_init}
        self._uses_cost = problem.metric == TOTAL_COST
        if problem.metric is not None and problem.metric != TOTAL_COST:
            raise self._checks.error(
                "problem",
                f"metric ({problem.metric}) is not supported",
                "(:metric minimize (total-cost))",
            )
        for atom in problem.init:
            self._checks.fact(atom, "init")
        self._init = frozenset(str(atom) for atom in problem.init)
        for lit in problem.goal:
            if lit.atom.predicate != "=":
                self._checks.fact(lit.atom, "goal")
        derived = self._formulas.derived
        goal = tuple(lit for lit in problem.goal if lit.atom.predicate not in derived)
        rest = [lit for lit in problem.goal if lit.atom.predicate in derived]
        rest += problem.goal_condition.parts if problem.goal_condition is not None else []
        self._goal_condition = Formula("and", tuple(rest)) if rest else None
        self._goal_test: Test | None = None
        if self._goal_condition is not None:
            self._checks.condition(self._goal_condition, set(), "the goal", "problem")
            self._goal_test = self._formulas.compile(self._goal_condition)
        self._goal_derived = self._formulas.uses_derived(self._goal_condition)
        self._goal_pos = frozenset(str(g.atom) for g in goal if g.positive and not _eq(g))
        self._goal_neg = frozenset(str(g.atom) for g in goal if not g.positive and not _eq(g))
        self._goal_static = tuple(
            str(g) for g in goal if _eq(g) and (g.atom.args[0] == g.atom.args[1]) != g.positive
        )
        self._cache: dict[str, Ground | Bad] = {}
        self._parts: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._successors: Successors | None = None  # built on the first applicable() call
        if problem.domain_name != domain.name:
            import logging  # here: `iterdeploy validate` starts faster without it

            logging.getLogger(__name__).warning(
                "problem %s names domain %r but the domain is %r",
                problem.filename,
                problem.domain_name,
                domain.name,
            )

    # ---- the contract ----------------------------------------------------------------------

    def initial_state(self) -> frozenset[str]:
        """Return the initial state as a frozenset of ground atoms such as `(on a b)`."""
        return self._init

    def is_goal(self, state: frozenset[str] | set[str]) -> bool:
        """Return whether `state` satisfies the goal."""
        if self._goal_static or not (self._goal_pos <= state and self._goal_neg.isdisjoint(state)):
            return False
        if self._goal_test is None:
            return True
        view = self._formulas.closure(state) if self._goal_derived else state
        return self._goal_test(view, {})

    def apply(self, state: frozenset[str], action: str) -> frozenset[str]:
        """Return the successor of `state` under `action` (applicability is NOT checked)."""
        ground = self._ground(action)
        if isinstance(ground, Bad):
            raise ValueError(f"cannot apply {action!r}: {ground.detail}")
        if ground.extra is None:
            return (state - ground.delete) | ground.add
        delete, add = self._effects(ground, self._view(ground, state))
        return (state - delete) | add

    def is_applicable(self, state: frozenset[str] | set[str], action: str) -> bool:
        """Return whether `action` (a plan line) names a ground action applicable in `state`."""
        ground = self._ground(action)
        return isinstance(ground, Ground) and self._holds(ground, state)

    def applicable(self, state: frozenset[str] | set[str]) -> list[str]:
        """Return the ground actions applicable in `state`, sorted, as `(name arg ...)` text."""
        if self._successors is None:
            self._successors = Successors(
                self.domain, self._formulas.objects, (self._split(atom) for atom in self._init)
            )
        out = []
        for name, args in self._successors.candidates(self._split(atom) for atom in state):
            ground = self._ground(format_step(name, args))
            if isinstance(ground, Ground) and self._holds(ground, state):
                out.append(ground.text)
        out.sort()
        return out

    def validate(
        self, plan: str | Sequence[str], log: Callable[[str], None] | None = None
    ) -> Verdict:
        """Return the verdict of `plan`: plan-file text, or a sequence of step strings.

        With `log`, each state change is reported VAL-style, one line per call.
        """
        lines = plan_lines(plan) if isinstance(plan, str) else [str(s).strip() for s in plan]
        length = len(lines)
        state = set(self._init)
        cost = self._numeric.get(f"({TOTAL_COST})", 0.0)
        for index, line in enumerate(lines):
            ground = self._cache.get(line)
            if ground is None:
                ground = self._remember(line)
            if ground.__class__ is Bad:
                return Verdict(
                    False, ground.reason, index, f"step {index}: {ground.detail}", (), length, cost
                )
            if not (ground.pre_pos <= state and ground.pre_neg.isdisjoint(state)) or ground.special:
                view = state if ground.extra is None else self._view(ground, state)
                if not self._holds(ground, state, view):
                    return self._inapplicable(ground, state, index, length, cost, log)
                if ground.extra is not None:  # ADL: the effect depends on the state
                    delete, add = self._effects(ground, view)
                    if log is not None:
                        _log_step(log, index, ground.text, delete, add, state)
                    state -= delete
                    state |= add
                    cost += ground.cost
                    continue
            if log is not None:
                _log_step(log, index, ground.text, ground.delete, ground.add, state)
            state -= ground.delete
            state |= ground.add
            cost += ground.cost
        if not self._uses_cost:
            cost = float(length)
        if self.is_goal(state):
            if log is not None:
                log(f"Plan valid: {length} steps, cost {cost:g}")
            return Verdict(True, Reason.OK, None, "", (), length, cost)
        missing = self._goal_failures(state)
        reason = Reason.EMPTY_PLAN if length == 0 else Reason.GOAL_NOT_REACHED
        detail = ("the plan is empty and " if length == 0 else "after the last step ") + (
            "the goal does not hold: " + " ".join(missing)
        )
        if log is not None:
            log(f"Plan invalid: {detail}")
        return Verdict(False, reason, None, detail, missing, length, cost)

    # ---- validation helpers ------------------------------------------------------------------

    def _inapplicable(
        self,
        ground: Ground,
        state: set[str],
        index: int,
        length: int,
        cost: float,
        log: Callable[[str], None] | None,
    ) -> Verdict:
        if ground.cost is None:
            detail = f"step {index} {ground.text}: its cost fluent is undefined in :init"
            return Verdict(False, Reason.UNSATISFIED_PRECONDITION, index, detail, (), length, cost)
        missing = tuple(
            sorted(ground.pre_pos - state)
            + [f"(not {atom})" for atom in sorted(ground.pre_neg & state)]
            + list(ground.static_fail)
        )
        extra = ground.extra
        if extra is not None and extra.test is not None:
            view = self._view(ground, state)
            if not extra.test(view, extra.env):
                missing += tuple(self._formulas.failures(extra.condition, view, extra.env))
        detail = f"step {index} {ground.text}: precondition not satisfied: " + " ".join(missing)
        if log is not None:
            log(f"Plan invalid: {detail}")
        return Verdict(False, Reason.UNSATISFIED_PRECONDITION, index, detail, missing, length, cost)

    def _goal_failures(self, state: set[str]) -> tuple[str, ...]:
        missing = (
            sorted(self._goal_pos - state)
            + [f"(not {atom})" for atom in sorted(self._goal_neg & state)]
            + list(self._goal_static)
        )
        if self._goal_condition is not None:
            view = self._formulas.closure(state) if self._goal_derived else state
            if not self._goal_test(view, {}):
                missing += self._formulas.failures(self._goal_condition, view, {})
        return tuple(missing)

    def _holds(
        self,
        ground: Ground,
        state: frozenset[str] | set[str],
        view: frozenset[str] | set[str] | None = None,
    ) -> bool:
        """Return whether the step passes in `state`, exactly as `validate` decides.

        `view` is `state` with its derived atoms, when the caller has computed it already.
        """
        if (
            ground.static_fail
            or ground.cost is None
            or not (ground.pre_pos <= state and ground.pre_neg.isdisjoint(state))
        ):
            return False
        extra = ground.extra
        if extra is None or extra.test is None:
            return True
        return extra.test(self._view(ground, state) if view is None else view, extra.env)

    def _view(self, ground: Ground, state: frozenset[str] | set[str]) -> frozenset[str] | set[str]:
        """Return the state the step's ADL tests read: with derived atoms if they need them."""
        return self._formulas.closure(state) if ground.extra.derived else state

    def _effects(
        self, ground: Ground, view: frozenset[str] | set[str]
    ) -> tuple[frozenset[str], frozenset[str]]:
        """Return (deletes, adds) of an ADL step in the state `view`, conditions read before."""
        delete, add = set(ground.delete), set(ground.add)
        for env, test, adds, deletes in ground.extra.conditional:
            if test(view, env):
                add |= adds
                delete |= deletes
        return frozenset(delete), frozenset(add)

    # ---- grounding ---------------------------------------------------------------------------

    def _ground(self, line: str) -> Ground | Bad:
        """Return the ground action written on `line` (cached), or why it names none."""
        cached = self._cache.get(line)
        return cached if cached is not None else self._remember(line)

    def _remember(self, line: str) -> Ground | Bad:
        """Resolve a line not in the cache, and cache the result."""
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        result = self._resolve(line)
        if not (isinstance(result, Bad) and result.reason is Reason.UNPARSABLE):
            self._cache[line] = result  # free-text garbage is unique: caching it only costs
        return result

    def _resolve(self, line: str) -> Ground | Bad:
        parsed = parse_step(line)
        if parsed is None:
            shown = line if len(line) <= 80 else line[:77] + "..."
            return Bad(Reason.UNPARSABLE, f"{shown!r} is not a step of the form (action arg ...)")
        name, args = parsed
        text = "(" + " ".join((name, *args)) + ")"  # parse_step lower-cased it already
        schema = self._schemas.get(name)
        if schema is None:
            import difflib  # only for an error's hint

            hint = difflib.get_close_matches(name, list(self._schemas), n=1)
            known = f"did you mean {hint[0]!r}?" if hint else "known: " + ", ".join(self._schemas)
            return Bad(Reason.UNKNOWN_ACTION, f"{text}: unknown action {name!r}; {known}")
        params = schema.action.parameters
        if len(args) != len(params):
            signature = format_step(name, [p.name for p in params])
            return Bad(
                Reason.WRONG_ARITY,
                f"{text}: {name} takes {len(params)} arguments {signature}, got {len(args)}",
            )
        if all(map(frozenset.__contains__, schema.fits, args)):  # the common case, fast
            return self._instantiate(schema, text, args)
        for position, (arg, param, allowed) in enumerate(
            zip(args, params, schema.types, strict=True)
        ):
            ancestors = self._objects.get(arg)
            if ancestors is None:
                return Bad(
                    Reason.UNKNOWN_OBJECT,
                    f"{text}: argument {position + 1} {arg!r} "
                    "is not an object of the problem or a constant of the domain",
                )
            if ancestors.isdisjoint(allowed):
                return Bad(
                    Reason.TYPE_MISMATCH,
                    f"{text}: argument {position + 1} {arg!r} is "
                    f"not of type {' or '.join(allowed)} required by {param.name}",
                )
        return self._instantiate(schema, text, args)

    def _instantiate(self, schema: Schema, text: str, args: tuple[str, ...]) -> Ground:
        static_fail = self._static_failures(schema, args) if schema.eq else ()
        cost: float | None = 1.0  # unit cost unless the problem minimises total-cost
        if self._uses_cost:
            if schema.action.cost is None:
                cost = 0.0
            elif schema.cost is None:
                cost = schema.action.cost.value or 0.0
            else:
                cost = self._numeric.get(schema.cost.format(*args))
        atoms = schema.atoms(*args).split("\n")
        pos, neg, add, end = schema.bounds
        adds, deletes = frozenset(atoms[neg:add]), frozenset(atoms[add:end])
        extra = None
        if schema.test is not None or schema.effects:
            extra, adds, deletes = self._extra(schema, args, adds, deletes)
        return Ground(
            text,
            frozenset(atoms[:pos]),
            frozenset(atoms[pos:neg]),
            static_fail,
            adds,
            deletes,
            cost,
            extra,
        )

    def _extra(
        self, schema: Schema, args: tuple[str, ...], adds: frozenset[str], deletes: frozenset[str]
    ) -> tuple[Extra | None, frozenset[str], frozenset[str]]:
        """Ground the ADL part of a step: quantified effects without a condition join the
        plain adds and deletes; conditional ones are kept per binding, tested at each step."""
        action = schema.action
        env = dict(zip((p.name for p in action.parameters), args, strict=True))
        conditional, add, delete = [], set(adds), set(deletes)
        for variables, test, effect in schema.effects:
            for inner in self._formulas.bindings(variables, env):
                here_add = frozenset(ground_atom(atom, inner) for atom in effect.add)
                here_delete = frozenset(ground_atom(atom, inner) for atom in effect.delete)
                if test is None:
                    add |= here_add
                    delete |= here_delete
                else:
                    conditional.append((inner, test, here_add, here_delete))
        if schema.test is None and not conditional:
            return None, frozenset(add), frozenset(delete)
        derived = self._formulas.uses_derived(action.condition) or any(
            self._formulas.uses_derived(effect.condition) for effect in action.effects
        )
        extra = Extra(env, action.condition, schema.test, conditional, derived)
        return extra, frozenset(add), frozenset(delete)

    def _static_failures(self, schema: Schema, args: tuple[str, ...]) -> tuple[str, ...]:
        """Return the (in)equality preconditions of the step that fail, as literals."""
        out = []
        for fmt, positive in schema.eq:
            left, right = self._split(fmt.format(*args))[1]
            if (left == right) != positive:
                out.append(f"(= {left} {right})" if positive else f"(not (= {left} {right}))")
        return tuple(out)

    def _split(self, atom: str) -> tuple[str, tuple[str, ...]]:
        parts = self._parts.get(atom)
        if parts is None:
            words = atom[1:-1].split()
            parts = self._parts[atom] = (words[0], tuple(words[1:]))
        return parts

    # ---- preparation -------------------------------------------------------------------------

    def _compile(self, action: Action) -> Schema:
        self._checks.action(action)
        names = {p.name: i for i, p in enumerate(action.parameters)}

        def compile_atom(atom: Atom) -> str:
            parts = [atom.predicate]
            for index, arg in enumerate(atom.args, start=1):
                if arg in names:
                    parts.append(f"{{{names[arg]}}}")
                elif arg in self._objects:
                    parts.append(arg.replace("{", "{{").replace("}", "}}"))
                else:
                    raise self._checks.error(
                        "domain",
                        f"action {action.name!r} uses {arg!r}, which is "
                        "neither a parameter nor a constant",
                        "a declared constant",
                        atom.pos,
                        index,
                    )
            return "(" + " ".join(parts) + ")"

        return Schema(action, self._objects, compile_atom, self._formulas)


def _eq(literal: Literal) -> bool:
    return literal.atom.predicate == "="


def _log_step(
    log: Callable[[str], None],
    index: int,
    text: str,
    delete: frozenset[str],
    add: frozenset[str],
    state: set[str],
) -> None:
    log(f"Checking step {index}: {text}")
    for atom in sorted(delete - add):
        if atom in state:
            log(f"    Deleting {atom}")
    for atom in sorted(add):
        if atom not in state or atom in delete:
            log(f"    Adding {atom}")
