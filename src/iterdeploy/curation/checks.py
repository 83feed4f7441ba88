"""Counter-reward checks: what "good" means beyond "valid", run on every trace.

Validity is the paper's only reward. A check adds another yes/no judgement of a plan (short
enough, avoids an action, never visits an atom, or a user's callable); the loop stores each
result per trace and a policy can `require` any of them. Each check is a plain function
`(steps, task, checker) -> bool`, built from a `CheckConfig` by `build_check`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from iterdeploy.errors import require, require_choices
from iterdeploy.registry import load_object

if TYPE_CHECKING:
    from iterdeploy.domains.base import Task

Check = Callable[[Sequence[str], "Task", Any], bool]


@dataclass(frozen=True, slots=True)
class CheckConfig:
    """One counter-reward check, written as `[[curation.checks]]` in a preset."""

    name: str  # the key its result is stored under and that `curation.require` names
    kind: Literal["length-ratio", "forbidden", "callable"] = "length-ratio"  # what it judges
    max_ratio: float = 2.0  # length-ratio: plan length <= max_ratio x reference length
    actions: tuple[str, ...] = ()  # forbidden: action names the plan must not use
    atoms: tuple[str, ...] = ()  # forbidden: atoms, e.g. "(on a b)", no visited state may hold
    function: str = ""  # callable: "module:function" taking (steps, task) -> bool

    def __post_init__(self) -> None:
        where = f"curation.checks[{self.name!r}]"
        require_choices(self, where)
        require(self.kind != "length-ratio" or self.max_ratio > 0, f"{where}.max_ratio",
                self.max_ratio, "a number > 0")  # fmt: skip
        require(self.kind != "forbidden" or bool(self.actions or self.atoms),
                f"{where}.actions", list(self.actions),
                "some action names, or `atoms`, for a forbidden check")  # fmt: skip
        require(self.kind != "callable" or ":" in self.function, f"{where}.function",
                self.function, "'module:function'")  # fmt: skip


def build_check(config: CheckConfig) -> Check:
    """Return the check function `config` describes."""
    if config.kind == "length-ratio":
        return lambda steps, task, checker: _within_ratio(steps, task, config.max_ratio)
    if config.kind == "forbidden":
        actions = frozenset(a.lower() for a in config.actions)
        atoms = frozenset(_normalise(a) for a in config.atoms)
        return lambda steps, task, checker: _avoids(steps, checker, actions, atoms)
    user = load_object(config.function, what=f"check {config.name!r}")
    return lambda steps, task, checker: bool(user(steps, task))


def run_checks(
    checks: dict[str, Check], steps: Sequence[str], task: Task, checker: Any
) -> dict[str, bool]:
    """Return each check's result for one plan; an empty plan passes no check."""
    if not steps:
        return {name: False for name in checks}
    return {name: bool(check(steps, task, checker)) for name, check in checks.items()}


def _within_ratio(steps: Sequence[str], task: Task, max_ratio: float) -> bool:
    reference = task.reference_length
    if not reference:  # no reference plan: nothing to compare against
        return True
    return len(steps) <= max_ratio * reference


def _avoids(steps: Sequence[str], checker: Any, actions: frozenset, atoms: frozenset) -> bool:
    if any(_action_name(step) in actions for step in steps):
        return False
    if not atoms:
        return True
    state = checker.initial_state()
    if atoms & state:
        return False
    for step in map(_normalise, steps):
        if not checker.is_applicable(state, step):  # states after a failing step never occur
            break
        state = checker.apply(state, step)
        if atoms & state:
            return False
    return True


def _action_name(step: str) -> str:
    return step.strip().strip("()").split()[0].lower() if step.strip("() ") else ""


def _normalise(text: str) -> str:
    """Return a ground action or atom as the validator writes it: "(name a b)"."""
    return "(" + " ".join(text.strip().strip("()").lower().split()) + ")"
