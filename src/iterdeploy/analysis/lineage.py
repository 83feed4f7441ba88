"""Lineage of one trace: where it came from and where it went; the list of trace ids.

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

from iterdeploy.analysis.data import open_store
from iterdeploy.errors import ConfigError, StoreError
from iterdeploy.loop.store import reads
from iterdeploy.records import StoredTrace, parse_trace_id

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
        trace = reads.trace(store, run, generation, task_id, sample)
        if trace is None:
            raise ConfigError(
                f"no trace {trace_id!r} in {folder}; trace ids are RUN/GENERATION/TASK_ID/SAMPLE "
                f"and `iterdeploy traces {folder}` lists them"
            )
        task = _one(reads.task(store, task_id), "task missing")
        gen = _one(
            reads.generation(store, run, generation),
            f"run {run} generation {generation} has traces but no generations row",
        )
        model = _one(
            store.model(run, generation),
            f"run {run} generation {generation} has traces but no model row",
        )
        trained_on = reads.dataset_summary(store, run, generation)
        entered = reads.entered_sets(store, run, task_id, generation, sample)
    return Lineage(
        trace_id=trace.trace_id,
        task={
            k: task[k]
            for k in ("task_id", "domain", "split", "difficulty", "digest", "reference_length")
        },
        prompt_digest=trace.prompt_digest,
        seed=trace.seed,
        sampling=json.loads(gen["sampling"]),
        model={
            k: model[k]
            for k in ("base", "kind", "adapter_path", "adapter_digest", "dataset_digest")
        },
        trained_on=dict(trained_on) if trained_on else None,
        validator={"name": gen["validator"], "version": gen["validator_version"]},
        verdict={
            "valid": trace.valid,
            "reason": trace.reason,
            "step": trace.step,
            "detail": trace.detail,
            "plan_length": trace.plan_length,
            "checks": dict(trace.checks),
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


@dataclass(frozen=True, slots=True)
class TraceListing:
    """One line of `iterdeploy traces`: a trace (without its text) and the sets it entered."""

    trace: StoredTrace
    curated_in: tuple[int, ...]  # generations whose curated set holds the trace


def list_traces(
    folder: str | Path,
    *,
    run: int | None = None,
    generation: int | None = None,
    task: str | None = None,
    split: str | None = None,
    valid: bool | None = None,
    curated: bool | None = None,
) -> list[TraceListing]:
    """Return the traces of a run folder that match every filter given, in natural-key order.

    `task` is a task id or a glob (`blocksworld-00*`); `curated` keeps the traces that entered
    (True) or never entered (False) a curated set.
    """
    if split not in (None, "pool", "heldout"):
        raise ConfigError(f"--split {split!r}: use 'pool' or 'heldout'")
    with open_store(folder) as store:
        rows = reads.list_traces(
            store, run=run, generation=generation, split=split, task=task, valid=valid
        )
    found = [TraceListing(trace, sets) for trace, sets in rows]
    return [t for t in found if curated is None or bool(t.curated_in) == curated]


def format_traces(found: list[TraceListing]) -> str:
    """Return the listing as tab-separated lines under a header, the trace id first."""
    lines = ["trace_id\tsplit\tverdict\tplan_length\tcurated_in"]
    for listing in found:
        t = listing.trace
        verdict = "valid" if t.valid else t.reason
        sets = ",".join(f"g{g}" for g in listing.curated_in) or "-"
        lines.append(f"{t.trace_id}\t{t.split}\t{verdict}\t{t.plan_length}\t{sets}")
    return "\n".join(lines)


def _one(row: Any, missing: str) -> Any:
    if row is None:
        raise StoreError(missing)
    return row
