"""The store's read queries for analysis: tables as records, lineage, export and listings.

Named columns only; each function takes an open `Store`. The loop's own reads are `Store`
methods (`core.py`).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from iterdeploy.loop.store.core import Store
from iterdeploy.loop.store.rows import stored_trace
from iterdeploy.records import StoredTrace

# Every `traces` column but the model output, and the task's split: what analysis loads.
_WITHOUT_TEXT = (
    "tr.run, tr.generation, tr.task_id, tr.sample, t.split, tr.seed, tr.prompt_digest,"
    " tr.reasoning_tokens, tr.output_tokens, tr.truncated, tr.plan, tr.extraction, tr.valid,"
    " tr.reason, tr.step, tr.detail, tr.unsatisfied, tr.checks, tr.gen_seconds, tr.val_seconds"
)


def all_tasks(store: Store) -> list[sqlite3.Row]:
    """Return every task as analysis sees it (no prompt, no reference plan)."""
    return store.query(
        "SELECT task_id, domain, split, difficulty, reference_length, problem FROM tasks"
    )


def all_traces(store: Store) -> list[StoredTrace]:
    """Return every trace without its text and prompt, in key order."""
    rows = store.query(
        f"SELECT {_WITHOUT_TEXT} FROM traces tr JOIN tasks t USING (task_id)"
        " ORDER BY tr.run, tr.generation, tr.task_id, tr.sample"
    )
    return [stored_trace(r) for r in rows]


def all_models(store: Store) -> list[sqlite3.Row]:
    """Return every model's kind and training curves, by run then generation."""
    return store.query(
        "SELECT run, generation, kind, losses, eval_losses FROM models ORDER BY run, generation"
    )


def all_evaluated(store: Store) -> list[sqlite3.Row]:
    """Return (run, generation) of every evaluated generation, in order."""
    return store.query(
        "SELECT run, generation FROM stages WHERE stage = 'evaluate' ORDER BY run, generation"
    )


def all_datasets(store: Store) -> list[sqlite3.Row]:
    """Return every curated set, by run then generation."""
    return store.query(
        "SELECT run, generation, policy, params, require, digest, size, path FROM datasets"
        " ORDER BY run, generation"
    )


def all_dataset_sources(store: Store) -> list[sqlite3.Row]:
    """Return each curated example's source trace, by set then position."""
    return store.query(
        "SELECT run, generation, task_id, source_generation, sample FROM dataset_examples"
        " ORDER BY run, generation, position"
    )


def trace(store: Store, run: int, generation: int, task_id: str, sample: int) -> StoredTrace | None:
    """Return the stored trace, its text and its task's split and prompt included, or None."""
    row = store.query_one(
        "SELECT tr.*, t.split, t.prompt FROM traces tr JOIN tasks t USING (task_id)"
        " WHERE tr.run = ? AND tr.generation = ? AND tr.task_id = ? AND tr.sample = ?",
        (run, generation, task_id, sample),
    )
    return None if row is None else stored_trace(row)


def task(store: Store, task_id: str) -> Any:
    """Return the stored task (every column), or None."""
    return store.query_one(
        "SELECT task_id, domain, split, difficulty, params, problem, reference_plan,"
        " reference_length, digest, prompt, prompt_digest FROM tasks WHERE task_id = ?",
        (task_id,),
    )


def generation(store: Store, run: int, generation: int) -> Any:
    """Return how (run, generation) was deployed and validated, or None."""
    return store.query_one(
        "SELECT run, generation, sampling, heldout_samples, validator, validator_version,"
        " started_at FROM generations WHERE run = ? AND generation = ?",
        (run, generation),
    )


def first_validator(store: Store, run: int) -> Any:
    """Return the validator name and version of the first deployed generation of `run`."""
    return store.query_one(
        "SELECT validator, validator_version FROM generations WHERE run = ?"
        " ORDER BY generation LIMIT 1",
        (run,),
    )


def dataset_summary(store: Store, run: int, generation: int) -> Any:
    """Return policy, params, digest, size and path of a curated set, or None."""
    return store.query_one(
        "SELECT policy, params, digest, size, path FROM datasets WHERE run = ? AND generation = ?",
        (run, generation),
    )


def model_summary(store: Store, run: int, generation: int) -> Any:
    """Return base, kind and adapter digest of a model, or None."""
    return store.query_one(
        "SELECT base, kind, adapter_digest FROM models WHERE run = ? AND generation = ?",
        (run, generation),
    )


def entered_sets(
    store: Store, run: int, task_id: str, generation: int, sample: int
) -> list[sqlite3.Row]:
    """Return the curated sets a trace entered: generation, position, set digest and policy."""
    return store.query(
        "SELECT e.generation, e.position, d.digest, d.policy FROM dataset_examples e "
        "JOIN datasets d USING (run, generation) WHERE e.run = ? AND e.task_id = ? AND "
        "e.source_generation = ? AND e.sample = ? ORDER BY e.generation",
        (run, task_id, generation, sample),
    )


def dataset_examples(store: Store, run: int, generation: int) -> list[sqlite3.Row]:
    """Return the examples of a curated set with their task and source trace's numbers."""
    return store.query(
        "SELECT e.position, e.task_id, e.source_generation, e.sample, t.domain, t.prompt, "
        "tr.plan_length, tr.reasoning_tokens FROM dataset_examples e "
        "JOIN tasks t USING (task_id) JOIN traces tr ON tr.run = e.run AND "
        "tr.generation = e.source_generation AND tr.task_id = e.task_id AND "
        "tr.sample = e.sample WHERE e.run = ? AND e.generation = ? ORDER BY e.position",
        (run, generation),
    )


def dataset_keys(store: Store) -> list[sqlite3.Row]:
    """Return (run, generation) of every curated set."""
    return store.query("SELECT run, generation FROM datasets ORDER BY run, generation")


def has_stage(store: Store) -> bool:
    """Return whether any stage has finished (a run that failed before it holds none)."""
    return bool(store.query("SELECT 1 FROM stages LIMIT 1"))


def list_traces(
    store: Store,
    *,
    run: int | None = None,
    generation: int | None = None,
    split: str | None = None,
    task: str | None = None,
    valid: bool | None = None,
) -> list[tuple[StoredTrace, tuple[int, ...]]]:
    """Return the traces (without text) matching every filter given (`task`: a glob), each
    with the generations whose curated sets it entered."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("tr.run", run), ("tr.generation", generation), ("t.split", split)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if task is not None:
        where.append("tr.task_id GLOB ?")
        params.append(task)
    if valid is not None:
        where.append("tr.valid = ?")
        params.append(int(valid))
    sql = (
        f"SELECT {_WITHOUT_TEXT}, (SELECT group_concat(e.generation) FROM dataset_examples e"
        " WHERE e.run = tr.run AND e.task_id = tr.task_id AND e.source_generation = tr.generation"
        " AND e.sample = tr.sample) AS curated_in FROM traces tr JOIN tasks t USING (task_id)"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY tr.run, tr.generation, tr.task_id, tr.sample"
    )
    return [
        (stored_trace(r), tuple(sorted(int(g) for g in (r["curated_in"] or "").split(",") if g)))
        for r in store.query(sql, tuple(params))
    ]
