"""Plan quality: each valid plan walked through the validator's own states (for the audit).

A step that returns to a state the plan was already in is a detour (a revisit), and one that
returns to the state before the previous step undoes that step (stack a b, then unstack a b).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iterdeploy.analysis.data import RunData
from iterdeploy.records import StoredTrace

__all__ = ["PlanWalk", "plan_walks", "walk_plan"]


@dataclass(frozen=True, slots=True)
class PlanWalk:
    """A plan replayed through the task's states, up to its first inapplicable step."""

    steps: int  # steps applied: the plan's applicable prefix (all of it for a valid plan)
    revisits: int  # steps that lead to a state the plan was already in (a detour)
    undone: int  # steps that lead back to the state before the previous step (an undo)


def walk_plan(checker: Any, plan: Sequence[str]) -> PlanWalk:
    """Return the `PlanWalk` of `plan` on a prepared task (`iterdeploy.pddl.validate.prepare`)."""
    state = checker.initial_state()
    path, seen = [state], {state}
    revisits = undone = 0
    for step in plan:
        if not checker.is_applicable(state, step):
            break
        state = checker.apply(state, step)
        if state in seen:
            revisits += 1
        if len(path) >= 2 and state == path[-2]:
            undone += 1
        path.append(state)
        seen.add(state)
    return PlanWalk(len(path) - 1, revisits, undone)


def plan_walks(items: Sequence[tuple[RunData, StoredTrace]]) -> dict[tuple, PlanWalk]:
    """Return the walk of each trace's plan, keyed by (run folder, trace key).

    Traces without a plan, and tasks whose problem or domain is not known (hand-made records,
    a domain outside `iterdeploy.domains.DOMAINS`), get no walk.
    """
    from iterdeploy.domains import DOMAINS
    from iterdeploy.errors import ConfigError
    from iterdeploy.pddl.parser import parse_domain, parse_problem
    from iterdeploy.pddl.validate import prepare

    domains: dict[str, Any] = {}
    checkers: dict[tuple[Path, str], Any] = {}
    by_plan: dict[tuple[Path, str, tuple[str, ...]], PlanWalk] = {}
    out = {}
    for data, t in items:
        task = data.tasks[t.task_id]
        if not t.plan or not task.problem:
            continue
        if task.domain not in domains:
            try:
                domains[task.domain] = parse_domain(DOMAINS.get(task.domain).domain_pddl)
            except ConfigError:
                domains[task.domain] = None
        if domains[task.domain] is None:
            continue
        where = (data.folder, t.task_id)
        if where not in checkers:
            problem = parse_problem(task.problem, filename=f"<{t.task_id}>")
            checkers[where] = prepare(domains[task.domain], problem)
        # Samples repeat plans (and the same plan always walks the same way): walk each once.
        once = (*where, t.plan)
        if once not in by_plan:
            by_plan[once] = walk_plan(checkers[where], t.plan)
        out[(data.folder, t.key)] = by_plan[once]
    return out
