"""The `traces` table's rows as `records.StoredTrace` and back: no SQL, only the column mapping.

Package docs: `iterdeploy.loop.store`.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from iterdeploy.records import StoredTrace


def trace_row(t: StoredTrace) -> dict[str, Any]:
    """Return the `traces` row of `t`, column name -> value (lists and maps as JSON)."""
    return {
        "run": t.run, "generation": t.generation, "task_id": t.task_id, "sample": t.sample,
        "seed": t.seed, "prompt_digest": t.prompt_digest, "text": t.text,
        "reasoning_tokens": t.reasoning_tokens, "output_tokens": t.output_tokens,
        "truncated": int(t.truncated), "plan": json.dumps(list(t.plan)),
        "plan_length": t.plan_length, "extraction": t.extraction, "valid": int(t.valid),
        "reason": t.reason, "step": t.step, "detail": t.detail,
        "unsatisfied": json.dumps(list(t.unsatisfied)),
        "checks": json.dumps(dict(t.checks), sort_keys=True),
        "gen_seconds": t.gen_seconds, "val_seconds": t.val_seconds,
    }  # fmt: skip


_DECODE: dict[str, Any] = {
    "plan": lambda v: tuple(json.loads(v)),
    "unsatisfied": lambda v: tuple(json.loads(v)),
    "checks": lambda v: json.loads(v) if v else {},
    "valid": bool,
    "truncated": bool,
}


def stored_trace(row: sqlite3.Row) -> StoredTrace:
    """Return the `StoredTrace` of a query row: the `traces` columns it selected (by name),
    plus `split` and `prompt` when it joined the task; other fields keep their defaults."""
    fields = StoredTrace.__dataclass_fields__
    values = {k: row[k] for k in row.keys() if k in fields}
    return StoredTrace(**{k: _DECODE.get(k, _unchanged)(v) for k, v in values.items()})


def _unchanged(value: Any) -> Any:
    return value
