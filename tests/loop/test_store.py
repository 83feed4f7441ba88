from __future__ import annotations

import json
from dataclasses import replace

import pytest

from iterdeploy.errors import StoreError
from iterdeploy.loop.store import (
    SCHEMA,
    SCHEMA_VERSION,
    Store,
    add_event,
    add_traces,
    mark_done,
    reads,
)
from iterdeploy.records import StoredTrace


def insert_trace(db, sample, seconds):
    db.execute(
        "INSERT OR IGNORE INTO tasks VALUES ('t1', 'bw', 'pool', '0', '{}', '(define)', '[]', 2,"
        " 'd', 'p', 'pd')"
    )
    db.execute(
        f"INSERT INTO traces VALUES (0, 0, 't1', {sample}, 7, 'pd', 'text', 3, 5, 0, '[]', 0,"
        f" 'rule', 0, 'unparsable', NULL, '', '[]', '{{}}', {seconds}, {seconds})"
    )


def test_store_is_created_in_wal_mode_with_every_table(tmp_path):
    with Store(tmp_path / "s.sqlite", create=True) as store:
        mode = store.db.execute("PRAGMA journal_mode").fetchone()[0]
        tables = {r["name"] for r in store.query("SELECT name FROM sqlite_master")}
    assert mode == "wal"
    expected = {
        "meta",
        "runs",
        "tasks",
        "generations",
        "stages",
        "traces",
        "datasets",
        "dataset_examples",
        "models",
        "events",
        "deployments",
        "gate_decisions",
    }
    assert expected <= tables
    assert all(f"CREATE TABLE IF NOT EXISTS {t} " in SCHEMA for t in expected)


def test_failed_transaction_leaves_neither_outputs_nor_marker(tmp_path):
    with Store(tmp_path / "s.sqlite", create=True) as store:
        with pytest.raises(RuntimeError), store.transaction() as db:
            insert_trace(db, 0, 1.0)
            mark_done(db, 0, 0, "deploy", 0)
            raise RuntimeError("killed mid-stage")
        assert store.query("SELECT COUNT(*) AS n FROM traces")[0]["n"] == 0
        assert not store.is_done(0, 0, "deploy", 0)
        with store.transaction() as db:
            insert_trace(db, 0, 1.0)
            mark_done(db, 0, 0, "deploy", 0)
        assert store.is_done(0, 0, "deploy", 0)
        assert not store.is_done(0, 0, "deploy", 1)


def test_done_marker_cannot_be_written_twice(tmp_path):
    with Store(tmp_path / "s.sqlite", create=True) as store:
        with store.transaction() as db:
            mark_done(db, 0, 1, "train")
        with pytest.raises(Exception, match="UNIQUE"), store.transaction() as db:
            mark_done(db, 0, 1, "train")


def test_digests_ignore_timings_but_not_content(tmp_path):
    digests = []
    for name, seconds, sample in (("a", 1.0, 0), ("b", 9.0, 0), ("c", 1.0, 1)):
        with Store(tmp_path / f"{name}.sqlite", create=True) as store:
            with store.transaction() as db:
                insert_trace(db, sample, seconds)
                add_event(db, "x", 0, 0, at=seconds)
            digests.append(store.digests())
    assert digests[0] == digests[1]
    assert digests[0]["traces"] != digests[2]["traces"]
    assert digests[0]["tasks"] == digests[2]["tasks"]


def test_events_store_json_detail(tmp_path):
    with Store(tmp_path / "s.sqlite", create=True) as store:
        with store.transaction() as db:
            add_event(db, "run-started", 0, None, seed=5)
        row = store.query("SELECT * FROM events")[0]
    assert row["kind"] == "run-started" and json.loads(row["detail"]) == {"seed": 5}


def test_missing_or_corrupt_store_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="no run store"):
        Store(tmp_path / "nope.sqlite")
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a usable run store"):
        Store(bad)


def test_a_version_1_store_gets_its_gate_decisions_from_the_gate_events(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path, create=True) as store, store.transaction() as db:
        db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
        add_event(db, "gate", 0, 1, deployed=0, reference=0, passed=False, solve_rate=0.25,
                  reference_rate=0.5, reasons=["heldout solve rate fell"])  # fmt: skip
        add_event(db, "gate", 0, 2, deployed=2, reference=0, passed=True, solve_rate=0.75,
                  reference_rate=0.5, reasons=[])  # fmt: skip
        db.execute("DELETE FROM gate_decisions")  # a version-1 store has none
    with Store(path) as store:
        assert store.get_meta("schema_version") == SCHEMA_VERSION == "2"
        decisions = store.gate_decisions()
    assert sorted(decisions) == [(0, 1), (0, 2)]
    failed = decisions[(0, 1)]
    assert (failed["reference"], failed["passed"], failed["deployed"]) == (0, 0, 0)
    assert json.loads(failed["reasons"]) == ["heldout solve rate fell"]
    assert (decisions[(0, 2)]["passed"], decisions[(0, 2)]["deployed"]) == (1, 2)


def test_a_stored_trace_reads_back_as_the_record_that_was_written(tmp_path):
    written = StoredTrace(
        run=0, generation=1, task_id="t1", sample=2, split="pool", valid=False,
        plan=("(pick-up a)", "(stack a b)"), reasoning_tokens=3, truncated=True,
        reason="precondition-unsatisfied", checks={"short": True, "fresh": False},
        text="<think>hm</think>(pick-up a)\n(stack a b)", prompt="p", seed=7,
        prompt_digest="pd", output_tokens=5, extraction="answer", step=1,
        detail="(holding b) is false", unsatisfied=("(on a b)",), gen_seconds=0.5,
        val_seconds=0.25,
    )  # fmt: skip
    with Store(tmp_path / "s.sqlite", create=True) as store:
        with store.transaction() as db:
            db.execute(
                "INSERT INTO tasks VALUES ('t1', 'bw', 'pool', '0', '{}', '(define)', '[]', 2,"
                " 'd', 'p', 'pd')"
            )
            add_traces(db, [written])
        (with_texts,) = store.traces_with_tasks(0, (0, 1))
        (listed,) = reads.all_traces(store)
        one = reads.trace(store, 0, 1, "t1", 2)
        ((in_listing, curated_in),) = reads.list_traces(store, valid=False)
    assert with_texts == written and one == written
    assert listed == replace(written, text="", prompt="") == in_listing
    assert curated_in == () and listed.plan_length == 2
    assert listed.trace_id == "0/1/t1/2"
