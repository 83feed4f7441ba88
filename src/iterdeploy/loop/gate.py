"""The release gate and the deployed-generation pointer: promote, rollback, and why.

The loop gates each candidate with `compare` (loop.deploy = "gated"); `promote` and `rollback`
move the pointer by hand. Analysis reads the results (`analysis.governance` tables).

The store's `deployments` table is an append-only history; its newest row per run is the
generation that is deployed. The loop appends a `deploy` row per generation: the generation
itself (loop.deploy = "newest"), or after the gate, the candidate or the generation that stays
deployed (loop.deploy = "gated", reason = the decision). `promote` and `rollback` append rows
too, each with its reason, and log an event. Nothing is ever deleted or updated, so the history
says who moved the pointer, when and why.

The gate compares a candidate generation with the deployed one on evaluation tasks (held-out
by default): the solve rate may drop by at most `max_drop`, and no task group (domain x
difficulty by default) may lose more than `max_group_drop` of its tasks' solve rate.

The gate's thresholds are `GateConfig`, the run config's `[gate]` table (defined in `config`,
which imports no stage; re-exported here).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

from iterdeploy.config import GROUP_KEYS, GateConfig, from_dict, read_toml
from iterdeploy.errors import ConfigError, IterdeployError, StoreError
from iterdeploy.loop.store import Store, add_deployment, add_event, open_store

__all__ = [
    "GROUP_KEYS",
    "Deployment",
    "GateConfig",
    "GateDecision",
    "compare",
    "deployed",
    "evaluate_gate",
    "gate_chain",
    "gated_generation",
    "history",
    "promote",
    "rollback",
    "stored_gate",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The gate's verdict on `candidate` against `reference`, with every reason it failed."""

    run: int
    candidate: int
    reference: int
    passed: bool
    solve_rate: float  # candidate's solve rate on the gate's split
    reference_rate: float
    reasons: tuple[str, ...]  # empty when it passed

    def summary(self) -> str:
        head = (
            f"run {self.run}: generation {self.candidate} vs {self.reference}: "
            f"{self.split_rates()} -> {'PASS' if self.passed else 'FAIL'}"
        )
        return head if self.passed else head + "; " + "; ".join(self.reasons)

    def split_rates(self) -> str:
        return f"solve rate {self.solve_rate:.3f} (was {self.reference_rate:.3f})"


@dataclass(frozen=True, slots=True)
class Deployment:
    """One row of the deployment history."""

    id: int
    at: str
    run: int
    generation: int
    action: str  # deploy | promote | rollback
    reason: str


def stored_gate(folder: str | Path, **thresholds: object) -> GateConfig:
    """Return the run's own `[gate]` (its config.toml; the defaults when it has none), each
    given threshold that is not None replacing the stored one (`split=`, `max_drop=`, ...)."""
    path = Path(folder) / "config.toml"
    table = read_toml(path).get("gate", {}) if path.is_file() else {}
    config = from_dict(GateConfig, table, "gate.")
    return dataclasses.replace(config, **{k: v for k, v in thresholds.items() if v is not None})


def evaluate_gate(
    store: Store, run: int, candidate: int, reference: int, config: GateConfig
) -> GateDecision:
    """Return the gate's decision on `candidate` against `reference`, both evaluated."""
    _require_evaluated(store, run, candidate)
    _require_evaluated(store, run, reference)
    return compare(store, run, candidate, reference, config)


def compare(
    store: Store, run: int, candidate: int, reference: int, config: GateConfig
) -> GateDecision:
    """Return the gate's decision from the stored traces of both generations on its split.

    `evaluate_gate` checks first that both generations are evaluated; the loop (deploy =
    "gated") calls this as soon as the candidate's held-out traces are stored.
    """
    groups = _task_groups(store, config)
    total = sum(len(ids) for ids in groups.values())
    if total == 0:
        raise ConfigError(
            f"the gate measures {config.split!r} tasks but the run has none; set "
            "pool.heldout > 0 or use --split pool"
        )
    new, old = (
        store.solved(run, candidate, config.split),
        store.solved(run, reference, config.split),
    )
    rate, ref_rate = len(new) / total, len(old) / total
    reasons = []
    if ref_rate - rate > config.max_drop + 1e-12:
        reasons.append(
            f"{config.split} solve rate fell {ref_rate - rate:.3f} > {config.max_drop:g} allowed"
        )
    for key, ids in sorted(groups.items()):
        drop = (len(old & ids) - len(new & ids)) / len(ids)
        if drop > config.max_group_drop + 1e-12:
            reasons.append(
                f"group {'/'.join(key) or 'all'} lost {drop:.3f} of its solve rate > "
                f"{config.max_group_drop:g} allowed"
            )
    return GateDecision(run, candidate, reference, not reasons, rate, ref_rate, tuple(reasons))


def gate_chain(store: Store, run: int, config: GateConfig) -> list[GateDecision]:
    """Return the gate's walk over the run: each generation against the last one released.

    Generation 0 is released by definition; a later generation is released when it passes
    against the last released one. The last released generation is what the gate deploys.
    """
    released, out = 0, []
    for gen in store.evaluated(run)[1:]:
        decision = evaluate_gate(store, run, gen, released, config)
        out.append(decision)
        if decision.passed:
            released = gen
    return out


def gated_generation(store: Store, run: int, config: GateConfig) -> int:
    """Return the last generation the gate releases (the loop may deploy it, not the newest)."""
    passed = [d.candidate for d in gate_chain(store, run, config) if d.passed]
    return passed[-1] if passed else 0


def history(store: Store, run: int) -> list[Deployment]:
    """Return the run's deployment history, oldest first."""
    return [Deployment(**dict(r)) for r in store.deployments(run)]


def deployed(store: Store, run: int) -> int | None:
    """Return the generation deployed now (newest history row), or None before any."""
    rows = history(store, run)
    return rows[-1].generation if rows else None


def promote(
    folder: str | Path,
    run: int,
    generation: int,
    config: GateConfig,
    reason: str = "",
    force: bool = False,
) -> GateDecision | None:
    """Deploy `generation` if it passes the gate against the deployed one (or with `force`).

    Return the gate's decision, or None (and write nothing) when `generation` is deployed
    already. A failing gate without `force` raises `IterdeployError` (exit code 1).
    """
    with open_store(folder) as store:
        current = deployed(store, run)
        _require_evaluated(store, run, generation)
        if generation == current:
            return None
        decision = evaluate_gate(store, run, generation, current or 0, config)
        if not decision.passed and not force:
            raise IterdeployError(
                f"{decision.summary()}. Promote it anyway with --force and a --reason, or "
                "relax the gate (--max-drop, --max-group-drop)"
            )
        why = f"{reason or 'manual promote'}; gate: {decision.summary()}"
        _move(store, run, generation, "promote", why, gate=decision.passed, forced=force)
    return decision


def rollback(
    folder: str | Path,
    run: int,
    to: int | None = None,
    reason: str = "",
    config: GateConfig | None = None,
    gated: bool = False,
    force: bool = False,
) -> Deployment | None:
    """Move the pointer back and return the new history row (None: already there, nothing
    written).

    The target is `to`, else the gate's last release (`gated`, under `config`), else the
    generation deployed before. `to` must be a generation the gate releases under `config`
    (default `GateConfig()`), unless `force`: generation 0, or one that passed against the
    last release before it.
    """
    if to is not None and gated:
        raise ConfigError("--to and --gated exclude each other: --to G names the generation, "
                          "--gated lets the gate choose it")  # fmt: skip
    config = config or GateConfig()
    with open_store(folder) as store:
        rows = history(store, run)
        if not rows:
            raise StoreError(f"{folder}: run {run} has no deployment yet; nothing to roll back")
        current = rows[-1].generation
        if gated:
            to = gated_generation(store, run, config)
        elif to is None:
            earlier = [r.generation for r in rows if r.generation != current]
            if not earlier:
                raise StoreError(
                    f"{folder}: run {run} has deployed only generation {current}; "
                    "there is no earlier generation to roll back to"
                )
            to = earlier[-1]
        else:
            _require_evaluated(store, run, to)
            if not force:
                _require_released(store, run, to, config)
        if to == current:
            return None
        why = f"{reason or 'manual rollback'}; from generation {current} to {to}"
        _move(store, run, to, "rollback", why, previous=current)
        return history(store, run)[-1]


def _require_released(store: Store, run: int, generation: int, config: GateConfig) -> None:
    """Raise IterdeployError (exit 1) when the gate's walk did not release `generation`."""
    failed = [d for d in gate_chain(store, run, config) if d.candidate == generation]
    if failed and not failed[0].passed:
        raise IterdeployError(
            f"generation {generation} fails the gate: {failed[0].summary()}. Roll back to it "
            "anyway with --force and a --reason, or relax the gate (--max-drop, "
            "--max-group-drop)"
        )


def _move(store: Store, run: int, generation: int, action: str, reason: str, **detail) -> None:
    with store.transaction() as db:
        add_deployment(db, run, generation, action, reason)
        add_event(db, action, run, generation, reason=reason, **detail)
    log.info("run %d: %s generation %d (%s)", run, action, generation, reason)


def _require_evaluated(store: Store, run: int, generation: int) -> None:
    done = store.evaluated(run)
    if generation not in done:
        raise ConfigError(
            f"run {run} generation {generation} is not evaluated; choose one of {done or 'none'}"
            " (or resume the run first)"
        )


def _task_groups(store: Store, config: GateConfig) -> dict[tuple[str, ...], frozenset[str]]:
    groups: dict[tuple[str, ...], set[str]] = {}
    for r in store.split_tasks(config.split):
        key = tuple(str(r[k]) for k in config.group_by)
        groups.setdefault(key, set()).add(r["task_id"])
    return {k: frozenset(v) for k, v in groups.items()}
