"""The run store's schema, its migrations, the `Store` with the loop's reads, and every write.

Package docs: `iterdeploy.loop.store`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from iterdeploy.errors import StoreError
from iterdeploy.loop.store.rows import stored_trace, trace_row
from iterdeploy.records import StoredTrace

SCHEMA_VERSION = "2"  # 2: the gate_decisions table (1 kept them in `gate` events only)
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run INTEGER PRIMARY KEY,            -- 0-based repetition index
    seed INTEGER NOT NULL,              -- the run's own seed, derived from loop.seed
    started_at TEXT NOT NULL,
    finished_at TEXT                    -- NULL until every generation is done
);
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    domain TEXT NOT NULL,
    split TEXT NOT NULL CHECK (split IN ('pool', 'heldout')),
    difficulty TEXT NOT NULL,
    params TEXT NOT NULL,               -- JSON: generator parameters
    problem TEXT NOT NULL,              -- PDDL problem text
    reference_plan TEXT NOT NULL,       -- JSON list of steps (planner's plan)
    reference_length INTEGER,
    digest TEXT NOT NULL,               -- the task's own content digest
    prompt TEXT NOT NULL,
    prompt_digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS generations (
    run INTEGER NOT NULL,
    generation INTEGER NOT NULL,        -- 0 = the base model
    sampling TEXT NOT NULL,             -- JSON SamplingParams of the pool deployment
    heldout_samples INTEGER NOT NULL,
    validator TEXT NOT NULL,            -- name of the plan validator
    validator_version TEXT NOT NULL,
    started_at TEXT NOT NULL,
    PRIMARY KEY (run, generation)
);
CREATE TABLE IF NOT EXISTS stages (     -- done-markers, written with the stage's outputs
    run INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    stage TEXT NOT NULL,                -- deploy | evaluate | curate | train
    chunk INTEGER NOT NULL DEFAULT 0,   -- deploy chunk index; 0 for the other stages
    done_at TEXT NOT NULL,
    PRIMARY KEY (run, generation, stage, chunk)
);
CREATE TABLE IF NOT EXISTS traces (
    run INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    task_id TEXT NOT NULL REFERENCES tasks (task_id),
    sample INTEGER NOT NULL,
    seed INTEGER NOT NULL,              -- the task's seed; the backend derives sample j from it
    prompt_digest TEXT NOT NULL,
    text TEXT NOT NULL,                 -- the full model output
    reasoning_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    truncated INTEGER NOT NULL,         -- 1 when cut off at the token limit
    plan TEXT NOT NULL,                 -- JSON list of extracted steps
    plan_length INTEGER NOT NULL,
    extraction TEXT,                    -- the extraction rule that found the plan, or its error
    valid INTEGER NOT NULL,
    reason TEXT NOT NULL,               -- iterdeploy.pddl Reason value
    step INTEGER,                       -- 0-based failing step
    detail TEXT NOT NULL,
    unsatisfied TEXT NOT NULL,          -- JSON list of atoms
    checks TEXT NOT NULL,               -- JSON {check name: passed} (counter-rewards)
    gen_seconds REAL NOT NULL,
    val_seconds REAL NOT NULL,
    PRIMARY KEY (run, generation, task_id, sample)
);
CREATE TABLE IF NOT EXISTS datasets (   -- the curated set model `generation` is trained on
    run INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    policy TEXT NOT NULL,
    params TEXT NOT NULL,               -- JSON policy parameters
    require TEXT NOT NULL,              -- JSON list of required checks
    digest TEXT NOT NULL,               -- sha256 of the JSONL file
    size INTEGER NOT NULL,
    path TEXT NOT NULL,                 -- relative to the run folder
    PRIMARY KEY (run, generation)
);
CREATE TABLE IF NOT EXISTS dataset_examples (  -- lineage: which trace each example came from
    run INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    position INTEGER NOT NULL,
    task_id TEXT NOT NULL,
    source_generation INTEGER NOT NULL,
    sample INTEGER NOT NULL,
    PRIMARY KEY (run, generation, position)
);
CREATE TABLE IF NOT EXISTS models (
    run INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    base TEXT NOT NULL,                 -- base model path or hub id (always the original base)
    kind TEXT NOT NULL,                 -- base | lora | full
    adapter_path TEXT,                  -- relative to the run folder; NULL for the base model
    adapter_digest TEXT,
    dataset_digest TEXT,
    train_config TEXT NOT NULL,         -- JSON TrainConfig ({} for the base model)
    losses TEXT NOT NULL,               -- JSON list of training losses
    eval_losses TEXT NOT NULL,          -- JSON list of validation losses
    wall_seconds REAL NOT NULL,
    PRIMARY KEY (run, generation)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    run INTEGER,
    generation INTEGER,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL                -- JSON
);
CREATE TABLE IF NOT EXISTS deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    run INTEGER NOT NULL,
    generation INTEGER NOT NULL,        -- the generation now deployed
    action TEXT NOT NULL,               -- deploy (by the loop) | promote | rollback
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gate_decisions (  -- the loop's gate (loop.deploy = "gated")
    run INTEGER NOT NULL,
    generation INTEGER NOT NULL,        -- the candidate
    reference INTEGER NOT NULL,         -- the generation deployed when it was gated
    passed INTEGER NOT NULL,
    solve_rate REAL NOT NULL,           -- the candidate's, on the gate's split
    reference_rate REAL NOT NULL,
    reasons TEXT NOT NULL,              -- JSON list; empty when it passed
    deployed INTEGER NOT NULL,          -- the generation deployed after the decision
    PRIMARY KEY (run, generation)
);
"""

# Columns that describe the work itself; timings and timestamps vary between machines and runs.
DIGEST_QUERIES = {
    "tasks": "SELECT task_id, split, digest, prompt_digest FROM tasks ORDER BY task_id",
    "traces": (
        "SELECT run, generation, task_id, sample, seed, prompt_digest, text, reasoning_tokens,"
        " output_tokens, truncated, plan, valid, reason, step, detail, checks FROM traces"
        " ORDER BY run, generation, task_id, sample"
    ),
    "datasets": "SELECT run, generation, policy, params, digest, size FROM datasets ORDER BY 1, 2",
    "dataset_examples": "SELECT * FROM dataset_examples ORDER BY run, generation, position",
    "models": (
        "SELECT run, generation, base, kind, adapter_digest, dataset_digest FROM models"
        " ORDER BY run, generation"
    ),
}


def now() -> str:
    """Return the current UTC time as ISO-8601 text."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """The SQLite database of one run folder."""

    FILENAME = "store.sqlite"

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise StoreError(
                f"no run store at {self.path}; pass a run folder created by `iterdeploy run`"
            )
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable run store ({exc})") from exc
        self.db.row_factory = sqlite3.Row
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        """Bring a store written by an older version up to SCHEMA_VERSION (a no-op when new)."""
        version = self.get_meta("schema_version")
        if version is None or version == SCHEMA_VERSION:
            return
        with self.transaction() as db:
            if version == "1":  # gate decisions were only in the detail JSON of `gate` events
                for r in db.execute(
                    "SELECT run, generation, detail FROM events WHERE kind = 'gate' ORDER BY id"
                ).fetchall():
                    d = json.loads(r["detail"])
                    add_gate_decision(db, r["run"], r["generation"], d["reference"],
                                      d["passed"], d["solve_rate"], d["reference_rate"],
                                      d["reasons"], d["deployed"], replace=True)  # fmt: skip
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Yield the connection inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        row = self.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else row["value"]

    def is_done(self, run: int, generation: int, stage: str, chunk: int = 0) -> bool:
        """Return whether the stage (or deployment chunk) has its done-marker."""
        row = self.query_one(
            "SELECT 1 FROM stages WHERE run = ? AND generation = ? AND stage = ? AND chunk = ?",
            (run, generation, stage, chunk),
        )
        return row is not None

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self.db.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        """Return the first row of `sql`, or None when it has none."""
        return self.db.execute(sql, params).fetchone()

    # ---- reads ------------------------------------------------------------------------------

    def has_run(self, run: int) -> bool:
        return bool(self.query("SELECT 1 FROM runs WHERE run = ?", (run,)))

    def prompt_digests(self) -> dict[str, str]:
        """Return task_id -> prompt digest of the stored tasks."""
        return {r["task_id"]: r["prompt_digest"]
                for r in self.query("SELECT task_id, prompt_digest FROM tasks")}  # fmt: skip

    def dataset(self, run: int, generation: int) -> sqlite3.Row | None:
        """Return the curated set that trains model (run, generation), or None."""
        return self.query_one(
            "SELECT run, generation, policy, params, require, digest, size, path FROM datasets"
            " WHERE run = ? AND generation = ?",
            (run, generation),
        )

    def model(self, run: int, generation: int) -> sqlite3.Row | None:
        """Return the `models` row of (run, generation), or None."""
        return self.query_one(
            "SELECT run, generation, base, kind, adapter_path, adapter_digest, dataset_digest,"
            " train_config, losses, eval_losses, wall_seconds FROM models"
            " WHERE run = ? AND generation = ?",
            (run, generation),
        )

    def last_event(self, run: int, generation: int, kind: str) -> dict[str, Any] | None:
        """Return the detail of the newest `kind` event of (run, generation), or None."""
        row = self.query_one(
            "SELECT detail FROM events WHERE run = ? AND generation = ? AND kind = ?"
            " ORDER BY id DESC LIMIT 1",
            (run, generation, kind),
        )
        return None if row is None else json.loads(row["detail"])

    def traces_with_tasks(self, run: int, generations: tuple[int, int]) -> list[StoredTrace]:
        """Return the traces of `run` with generations in [first, last], texts and their task's
        split and prompt included, by generation, task and sample."""
        rows = self.query(
            "SELECT tr.*, t.split, t.prompt FROM traces tr JOIN tasks t USING (task_id)"
            " WHERE tr.run = ? AND tr.generation BETWEEN ? AND ?"
            " ORDER BY tr.generation, tr.task_id, tr.sample",
            (run, *generations),
        )
        return [stored_trace(r) for r in rows]

    def evaluated(self, run: int) -> list[int]:
        """Return the generations of `run` whose `evaluate` stage is done, ascending."""
        rows = self.query(
            "SELECT generation FROM stages WHERE run = ? AND stage = 'evaluate'"
            " ORDER BY generation",
            (run,),
        )
        return [r["generation"] for r in rows]

    def solved(self, run: int, generation: int, split: str | None = None) -> set[str]:
        """Return the tasks (of `split`, if given) with a valid trace in (run, generation).

        The one definition of "the tasks generation g solved" over stored traces; analysis
        applies the same rule to loaded records (`analysis.data.solved_sets`).
        """
        rows = self.query(
            "SELECT DISTINCT tr.task_id FROM traces tr JOIN tasks t USING (task_id)"
            " WHERE tr.run = ? AND tr.generation = ? AND tr.valid = 1"
            " AND (? IS NULL OR t.split = ?)",
            (run, generation, split, split),
        )
        return {r["task_id"] for r in rows}

    def split_tasks(self, split: str) -> list[sqlite3.Row]:
        """Return (task_id, domain, difficulty) of the tasks of `split`."""
        return self.query("SELECT task_id, domain, difficulty FROM tasks WHERE split = ?", (split,))

    def deployments(self, run: int) -> list[sqlite3.Row]:
        """Return the deployment history of `run`, oldest first."""
        return self.query(
            "SELECT id, at, run, generation, action, reason FROM deployments WHERE run = ?"
            " ORDER BY id",
            (run,),
        )

    def gate_decisions(self) -> dict[tuple[int, int], sqlite3.Row]:
        """Return the loop gate's decisions by (run, candidate generation)."""
        rows = self.query(
            "SELECT run, generation, reference, passed, solve_rate, reference_rate, reasons,"
            " deployed FROM gate_decisions ORDER BY run, generation"
        )
        return {(r["run"], r["generation"]): r for r in rows}

    def digests(self) -> dict[str, str]:
        """Return a content digest per table, ignoring timings and timestamps."""
        out = {}
        for table, sql in DIGEST_QUERIES.items():
            h = hashlib.sha256()
            for row in self.db.execute(sql):
                h.update(json.dumps(list(row), default=str).encode())
                h.update(b"\n")
            out[table] = h.hexdigest()
        return out


def mark_done(
    db: sqlite3.Connection, run: int, generation: int, stage: str, chunk: int = 0
) -> None:
    """Write a stage's done-marker (call inside the stage's transaction)."""
    db.execute(
        "INSERT INTO stages (run, generation, stage, chunk, done_at) VALUES (?, ?, ?, ?, ?)",
        (run, generation, stage, chunk, now()),
    )


def add_event(
    db: sqlite3.Connection, kind: str, run: int | None, generation: int | None, **detail: Any
) -> None:
    """Append one event (call inside a transaction)."""
    db.execute(
        "INSERT INTO events (at, run, generation, kind, detail) VALUES (?, ?, ?, ?, ?)",
        (now(), run, generation, kind, json.dumps(detail, sort_keys=True, default=str)),
    )


def open_store(folder: str | Path) -> Store:
    """Return the store of run folder `folder`, with an error naming the folder if absent."""
    path = Path(folder)
    if not (path / Store.FILENAME).is_file():
        raise StoreError(
            f"{path} is not a run folder (no {Store.FILENAME}); pass the folder that "
            "`iterdeploy run` printed"
        )
    return Store(path / Store.FILENAME)


# ---- writes (call inside `Store.transaction`) ----------------------------------------------


def add_deployment(
    db: sqlite3.Connection, run: int, generation: int, action: str, reason: str
) -> None:
    """Append a row to the deployment history: `generation` is deployed now."""
    db.execute(
        "INSERT INTO deployments (at, run, generation, action, reason) VALUES (?, ?, ?, ?, ?)",
        (now(), run, generation, action, reason),
    )


def add_gate_decision(
    db: sqlite3.Connection,
    run: int,
    generation: int,
    reference: int,
    passed: bool,
    solve_rate: float,
    reference_rate: float,
    reasons: list[str] | tuple[str, ...],
    deployed: int,
    *,
    replace: bool = False,
) -> None:
    """Record the loop gate's decision on candidate `generation` (and what is deployed now)."""
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    db.execute(
        f"{verb} INTO gate_decisions (run, generation, reference, passed, solve_rate,"
        " reference_rate, reasons, deployed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (run, generation, reference, int(passed), solve_rate, reference_rate,
         json.dumps(list(reasons)), deployed),
    )  # fmt: skip


def insert(
    db: sqlite3.Connection, table: str, rows: list[dict[str, Any]], *, verb: str = "INSERT"
) -> None:
    """Insert `rows` (column name -> value, all with the same columns) into `table`."""
    if not rows:
        return
    columns = list(rows[0])
    db.executemany(
        f"{verb} INTO {table} ({', '.join(columns)})"
        f" VALUES ({', '.join(':' + c for c in columns)})",
        rows,
    )


def add_traces(db: sqlite3.Connection, traces: list[StoredTrace]) -> None:
    """Write `traces` as rows of the `traces` table (their split and prompt are task columns)."""
    insert(db, "traces", [trace_row(t) for t in traces])


def add_meta(db: sqlite3.Connection, meta: dict[str, str]) -> None:
    """Write the run folder's `meta` keys (schema_version, config_digest, run_id, ...)."""
    insert(db, "meta", [{"key": k, "value": v} for k, v in meta.items()])


def add_generation(
    db: sqlite3.Connection,
    run: int,
    generation: int,
    sampling: str,
    heldout_samples: int,
    validator: tuple[str, str],
) -> None:
    """Record how (run, generation) is deployed and validated (once; later calls keep it)."""
    row = {"run": run, "generation": generation, "sampling": sampling,
           "heldout_samples": heldout_samples, "validator": validator[0],
           "validator_version": validator[1], "started_at": now()}  # fmt: skip
    insert(db, "generations", [row], verb="INSERT OR IGNORE")


def add_run(db: sqlite3.Connection, run: int, seed: int) -> None:
    """Record that `run` started, with its derived seed."""
    insert(db, "runs", [{"run": run, "seed": seed, "started_at": now()}])


def finish_run(db: sqlite3.Connection, run: int) -> None:
    """Stamp `run` finished (once)."""
    db.execute(
        "UPDATE runs SET finished_at = ? WHERE run = ? AND finished_at IS NULL", (now(), run)
    )


def add_model(db: sqlite3.Connection, model: dict[str, Any]) -> None:
    """Record the model of (run, generation): the `models` columns by name."""
    insert(db, "models", [model])


def add_dataset(
    db: sqlite3.Connection, dataset: dict[str, Any], sources: list[tuple[str, int, int]]
) -> None:
    """Record a curated set and, per example, the trace it came from (task_id, gen, sample)."""
    insert(db, "datasets", [dataset])
    run, generation = dataset["run"], dataset["generation"]
    insert(db, "dataset_examples", [
        {"run": run, "generation": generation, "position": i, "task_id": task_id,
         "source_generation": source, "sample": sample}
        for i, (task_id, source, sample) in enumerate(sources)
    ])  # fmt: skip
