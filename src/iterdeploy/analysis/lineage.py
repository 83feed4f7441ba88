"""Lineage of one trace: where it came from and where it went.

A trace's lineage answers: which task and prompt, sampled how, by which model (base + adapter
digest, and the digest of the curated set that model was trained on), judged by which
validator with which verdict, and which later curated sets it entered. (`export.py` writes a
curated set out as a dataset whose rows carry these trace ids.)
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from iterdeploy.analysis.data import format_trace_id, open_store, parse_trace_id
from iterdeploy.errors import ConfigError, StoreError
from iterdeploy.loop.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Lineage:
    """Where one trace came from and where it went."""

    trace_id: str
    task: dict[str, Any]  # task_id, domain, split, difficulty, digest, reference_length
    prompt_digest: str
    seed: int
    sampling: dict[str, Any]  # the generation's SamplingParams
    model: dict[str, Any]  # base, kind, adapter_path, adapter_digest, dataset_digest
    trained_on: dict[str, Any] | None  # the curated set of the model: policy, digest, size
    validator: dict[str, str]  # name, version
    verdict: dict[str, Any]  # valid, reason, step, detail, plan_length, checks
    entered: tuple[dict[str, Any], ...]  # later curated sets holding it: generation, digest, pos

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def trace_lineage(folder: str | Path, trace_id: str) -> Lineage:
    """Return the lineage of trace `trace_id` (RUN/GENERATION/TASK_ID/SAMPLE) in a run folder."""
    run, generation, task_id, sample = parse_trace_id(trace_id)
    with open_store(folder) as store:
        rows = store.query(
            "SELECT * FROM traces WHERE run = ? AND generation = ? AND task_id = ? AND sample = ?",
            (run, generation, task_id, sample),
        )
        if not rows:
            raise ConfigError(
                f"no trace {trace_id!r} in {folder}; trace ids are RUN/GENERATION/TASK_ID/SAMPLE "
                f"and `iterdeploy export {folder} GEN` lists those of a curated set"
            )
        trace = rows[0]
        task = _one(store, "SELECT * FROM tasks WHERE task_id = ?", (task_id,), "task missing")
        gen = _one(
            store,
            "SELECT * FROM generations WHERE run = ? AND generation = ?",
            (run, generation),
            f"run {run} generation {generation} has traces but no generations row",
        )
        model = _one(
            store,
            "SELECT * FROM models WHERE run = ? AND generation = ?",
            (run, generation),
            f"run {run} generation {generation} has traces but no model row",
        )
        trained_on = store.query(
            "SELECT policy, params, digest, size, path FROM datasets WHERE run = ? AND "
            "generation = ?",
            (run, generation),
        )
        entered = store.query(
            "SELECT e.generation, e.position, d.digest, d.policy FROM dataset_examples e "
            "JOIN datasets d USING (run, generation) WHERE e.run = ? AND e.task_id = ? AND "
            "e.source_generation = ? AND e.sample = ? ORDER BY e.generation",
            (run, task_id, generation, sample),
        )
    return Lineage(
        trace_id=format_trace_id(run, generation, task_id, sample),
        task={
            k: task[k]
            for k in ("task_id", "domain", "split", "difficulty", "digest", "reference_length")
        },
        prompt_digest=trace["prompt_digest"],
        seed=trace["seed"],
        sampling=json.loads(gen["sampling"]),
        model={
            k: model[k]
            for k in ("base", "kind", "adapter_path", "adapter_digest", "dataset_digest")
        },
        trained_on=dict(trained_on[0]) if trained_on else None,
        validator={"name": gen["validator"], "version": gen["validator_version"]},
        verdict={
            "valid": bool(trace["valid"]),
            "reason": trace["reason"],
            "step": trace["step"],
            "detail": trace["detail"],
            "plan_length": trace["plan_length"],
            "checks": json.loads(trace["checks"]),
        },
        entered=tuple(dict(r) for r in entered),
    )


def format_lineage(lin: Lineage) -> str:
    """Return the lineage as a few readable lines."""
    t, m, v = lin.task, lin.model, lin.verdict
    trained = lin.trained_on
    lines = [
        f"trace     {lin.trace_id}",
        f"task      {t['task_id']} ({t['domain']}, difficulty {t['difficulty']}, {t['split']}, "
        f"reference length {t['reference_length']}, digest {t['digest'][:12]})",
        f"prompt    digest {lin.prompt_digest[:12]}, seed {lin.seed}",
        f"sampling  {json.dumps(lin.sampling, sort_keys=True)}",
        f"model     {m['kind']} on base {m['base']}"
        + (
            f", adapter {m['adapter_path']} digest {str(m['adapter_digest'])[:12]}"
            if m["adapter_digest"]
            else ""
        ),
        "trained   "
        + (
            f"on curated set {trained['digest'][:12]} ({trained['size']} examples, "
            f"policy {trained['policy']})"
            if trained
            else "no (base model)"
        ),
        f"validator {lin.validator['name']} {lin.validator['version']}",
        f"verdict   {'valid' if v['valid'] else 'invalid'} ({v['reason']}"
        + (f" at step {v['step']}" if v["step"] is not None else "")
        + f"), plan length {v['plan_length']}, checks {json.dumps(v['checks'], sort_keys=True)}",
    ]
    if lin.entered:
        sets = ", ".join(
            f"g{e['generation']} (#{e['position']}, {e['digest'][:12]})" for e in lin.entered
        )
        lines.append(f"entered   {sets}")
    else:
        lines.append("entered   no curated set")
    return "\n".join(lines)


def _one(store: Store, sql: str, params: tuple, missing: str):
    rows = store.query(sql, params)
    if not rows:
        raise StoreError(missing)
    return rows[0]
