"""Reference plans: breadth-first search for tiny tasks, Fast Downward for the rest.

The `up-fast-downward` wheel ships the planner's driver script (`downward/fast-downward.py`) and
a compiled search binary; we call the driver with the current interpreter, a time limit and a
scratch folder, and read its plan file. lama-first finds a plan fast; astar(lmcut) then tries to
prove the optimal length within a shorter limit. A Fast Downward call costs ~0.3 s of process
start-up and translation, so tasks whose whole reachable state space is tiny (the trivial end of
a pool) are first solved optimally by an in-process breadth-first search over our validator's
transition system, capped at `bfs_states` states.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from iterdeploy.errors import ConfigError

if TYPE_CHECKING:
    from iterdeploy.pddl.validate import Checker

log = logging.getLogger(__name__)

LAMA_FIRST = "lama-first"
OPTIMAL_SEARCH = "astar(lmcut())"


@dataclass(frozen=True, slots=True)
class PlannerConfig:
    """Limits for the reference planner."""

    time_limit: float = 30.0  # seconds for lama-first (overall: translate + search)
    optimal_time_limit: float = 3.0  # seconds for astar(lmcut); 0 disables the optimal pass
    optimal_max_length: int = 20  # skip astar(lmcut) when lama-first's plan is longer
    memory_limit_mb: int = 2048  # per planner call
    bfs_states: int = 5000  # try an optimal breadth-first search up to this many states first

    def describe(self) -> str:
        """Return a short description of the planner and its settings, for the manifest."""
        optimal = ""
        if self.optimal_time_limit:
            optimal = (
                f", astar(lmcut) {self.optimal_time_limit:g}s up to {self.optimal_max_length} steps"
            )
        bfs = f"bfs {self.bfs_states} states, then " if self.bfs_states else ""
        return f"{bfs}fast-downward lama-first {self.time_limit:g}s{optimal}"


@dataclass(frozen=True, slots=True)
class PlanResult:
    """The outcome of one planning attempt: a plan (None if none was found) and its cost."""

    plan: tuple[str, ...] | None
    optimal: bool  # the plan's length was proved optimal
    seconds: float  # wall time of all planner calls
    status: str  # "solved", "unsolvable", "timeout" or "error: ..."
    method: str = ""  # the search that found the plan: "bfs", "lama-first" or "astar(lmcut())"


def driver_path() -> Path:
    """Return the path of the Fast Downward driver script shipped by `up-fast-downward`."""
    try:
        root = resources.files("up_fast_downward")
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "reference plans need Fast Downward: pip install 'iterdeploy[planner]' "
            "(missing module 'up_fast_downward')"
        ) from exc
    path = Path(str(root.joinpath("downward", "fast-downward.py")))
    if not path.is_file():
        raise ConfigError(f"Fast Downward driver not found at {path}; reinstall up-fast-downward")
    return path


def run_fast_downward(
    domain_pddl: str, problem_pddl: str, search: str, time_limit: float, memory_limit_mb: int
) -> tuple[tuple[str, ...] | None, str]:
    """Return (plan, status) from one Fast Downward run; `search` is an alias or a search string.

    The plan is a tuple of lower-case "(action args)" steps, or None when no plan was found.
    """
    with tempfile.TemporaryDirectory(prefix="iterdeploy-fd-") as scratch:
        folder = Path(scratch)
        (folder / "domain.pddl").write_text(domain_pddl)
        (folder / "problem.pddl").write_text(problem_pddl)
        limit = max(1, round(time_limit))
        command = [sys.executable, str(driver_path()), "--plan-file", "plan"]
        command += [f"--overall-time-limit={limit}s", f"--overall-memory-limit={memory_limit_mb}M"]
        if search == LAMA_FIRST:
            command += ["--alias", LAMA_FIRST, "domain.pddl", "problem.pddl"]
        else:
            command += ["domain.pddl", "problem.pddl", "--search", search]
        try:
            done = subprocess.run(
                command, cwd=folder, capture_output=True, text=True, timeout=limit + 15
            )
        except subprocess.TimeoutExpired:
            return None, "timeout"
        plan_file = folder / "plan"
        if done.returncode in (0, 1, 2, 3) and plan_file.is_file():  # 1-3: found, then a limit
            return read_plan(plan_file.read_text()), "solved"
        return None, exit_status(done.returncode, done.stderr)


def exit_status(code: int, stderr: str) -> str:
    """Return a status word for a Fast Downward exit code (see fast-downward.org ExitCodes)."""
    if code in (10, 11, 12):
        return "unsolvable"
    if code in (21, 23, -9, 137, 152):
        return "timeout"
    if code in (20, 22, 24):
        return "out-of-memory"
    # the driver may print a bytes repr, with literal "\\n" inside
    lines = [line.strip(" '") for line in stderr.replace("\\n", "\n").splitlines()]
    last = next((line for line in reversed(lines) if line), "")
    return f"error: exit code {code} {last[:200]}".strip()


def read_plan(text: str) -> tuple[str, ...]:
    """Return the steps of a Fast Downward plan file, lower-case and single-spaced."""
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(";"):
            steps.append("(" + " ".join(line.strip("()").lower().split()) + ")")
    return tuple(steps)


def find_plan(
    domain_pddl: str,
    problem_pddl: str,
    config: PlannerConfig,
    checker: Checker | None = None,
    optimal_first: bool = False,
) -> PlanResult:
    """Return a reference plan: breadth-first search on tiny tasks (given `checker`), else
    lama-first followed by astar(lmcut) for a shorter, optimal plan.

    With `optimal_first`, astar(lmcut) runs before lama-first (which is then only the fallback):
    on Sokoban lama-first is often several times slower than optimal search.
    """
    start = time.perf_counter()
    if checker is not None and config.bfs_states > 0:
        plan = breadth_first_plan(checker, config.bfs_states)
        if plan is not None:
            return PlanResult(plan, True, time.perf_counter() - start, "solved", "bfs")
    if optimal_first and config.optimal_time_limit > 0:
        best, _ = _optimal(domain_pddl, problem_pddl, config)
        if best is not None:
            return PlanResult(best, True, time.perf_counter() - start, "solved", OPTIMAL_SEARCH)
    plan, status = run_fast_downward(
        domain_pddl, problem_pddl, LAMA_FIRST, config.time_limit, config.memory_limit_mb
    )
    if plan is None:
        return PlanResult(None, False, time.perf_counter() - start, status)
    optimal, method = False, LAMA_FIRST
    tried = optimal_first  # astar(lmcut) already failed on this task
    if not tried and config.optimal_time_limit > 0 and len(plan) <= config.optimal_max_length:
        best, _ = _optimal(domain_pddl, problem_pddl, config)
        if best is not None:
            plan, optimal, method = best, True, OPTIMAL_SEARCH
    return PlanResult(plan, optimal, time.perf_counter() - start, "solved", method)


def _optimal(
    domain_pddl: str, problem_pddl: str, config: PlannerConfig
) -> tuple[tuple[str, ...] | None, str]:
    return run_fast_downward(
        domain_pddl,
        problem_pddl,
        OPTIMAL_SEARCH,
        config.optimal_time_limit,
        config.memory_limit_mb,
    )


def breadth_first_plan(checker: Checker, max_states: int) -> tuple[str, ...] | None:
    """Return a shortest plan, or None if the search meets more than `max_states` states
    (or none exists). States are checked for the goal when generated."""
    start = checker.initial_state()
    if checker.is_goal(start):
        return ()
    parent: dict[frozenset[str], tuple[frozenset[str], str] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        for action in checker.applicable(state):
            nxt = checker.apply(state, action)
            if nxt in parent:
                continue
            parent[nxt] = (state, action)
            if checker.is_goal(nxt):
                return trace_back(parent, nxt)
            if len(parent) > max_states:
                return None
            queue.append(nxt)
    return None


def trace_back(parent: dict, state: frozenset[str]) -> tuple[str, ...]:
    """Return the actions on the parent chain from the initial state to `state`."""
    steps = []
    while parent[state] is not None:
        state, action = parent[state]
        steps.append(action)
    return tuple(reversed(steps))
