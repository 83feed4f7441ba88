"""What validating a plan says: `Verdict`, with a `Reason` when the plan is invalid.

Defined apart from the validator (`pddl.validate`, which re-exports both) so the grounding
types and the plan extraction can name them without the checker.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class Reason(str, Enum):
    """Why a plan is invalid (`ok` when it is valid)."""

    OK = "ok"
    UNPARSABLE = "unparsable"
    UNKNOWN_ACTION = "unknown-action"
    WRONG_ARITY = "wrong-arity"
    UNKNOWN_OBJECT = "unknown-object"
    TYPE_MISMATCH = "type-mismatch"
    UNSATISFIED_PRECONDITION = "unsatisfied-precondition"
    GOAL_NOT_REACHED = "goal-not-reached"
    EMPTY_PLAN = "empty-plan"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of validating one plan.

    `step` is the 0-based index of the failing step (None when no single step is at fault),
    `unsatisfied` the failed precondition or goal literals, `length` the number of steps in
    the plan, `cost` its total cost under `(:metric minimize (total-cost))`, else its length.
    For an invalid plan `cost` covers the steps applied before the failure.
    """

    valid: bool
    reason: Reason
    step: int | None = None
    detail: str = ""
    unsatisfied: tuple[str, ...] = ()
    length: int = 0
    cost: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """Return the verdict as a JSON-ready dict (the reason as its string value)."""
        out = asdict(self)
        out["reason"] = self.reason.value
        out["unsatisfied"] = list(self.unsatisfied)
        return out
