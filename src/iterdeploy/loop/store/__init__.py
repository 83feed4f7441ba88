"""The run store: one SQLite database (WAL) per run folder, the source of truth of a run.

The schema is the one SQL string `SCHEMA` (in `core`); docs/loop.md explains each table. Stages
write their outputs and their done-marker (a `stages` row) in one transaction through
`Store.transaction`, so a run killed at any point holds only whole stages and whole deployment
chunks. All of the package's SQL is in this package, with named columns: `core` holds the
schema, its migration, the loop's reads and every write; `reads` the queries analysis runs;
`rows` maps a `traces` row to the one stored-trace record, `records.StoredTrace`, and back.
The loop (the orchestrator, and `loop.gate`'s `promote` / `rollback`) writes through it;
analysis only reads.

A store of an older schema version is migrated when it is opened (`Store._migrate`), so old run
folders stay readable and resumable.
"""

from __future__ import annotations

from iterdeploy.loop.store import reads
from iterdeploy.loop.store.core import (
    DIGEST_QUERIES,
    SCHEMA,
    SCHEMA_VERSION,
    Store,
    add_dataset,
    add_deployment,
    add_event,
    add_gate_decision,
    add_generation,
    add_meta,
    add_model,
    add_run,
    add_traces,
    finish_run,
    insert,
    mark_done,
    now,
    open_store,
)

__all__ = [
    "DIGEST_QUERIES",
    "SCHEMA",
    "SCHEMA_VERSION",
    "Store",
    "add_dataset",
    "add_deployment",
    "add_event",
    "add_gate_decision",
    "add_generation",
    "add_meta",
    "add_model",
    "add_run",
    "add_traces",
    "finish_run",
    "insert",
    "mark_done",
    "now",
    "open_store",
    "reads",
]
