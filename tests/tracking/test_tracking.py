"""Tracking for real: a run killed after generation 0 and resumed, read back from each tracker.

TensorBoard through its event reader, MLflow through `mlflow.search_runs` on a file store, and
W&B through the records of its offline run files. Every generation must arrive exactly once,
with the numbers of summary.json and the losses of the store.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tracking_helpers import write_preset

from iterdeploy.config import load_config
from iterdeploy.errors import ConfigError
from iterdeploy.loop.orchestrator import resume_run

TRACKING = """
[tracking]
backends = ["tensorboard", "mlflow", "wandb"]
"""


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory, cache, test_model) -> Path:
    """A run folder killed by SIGKILL after generation 0 was tracked, then resumed twice."""
    root = tmp_path_factory.mktemp("tracked")
    preset = write_preset(root / "p.toml", test_model, TRACKING)
    folder = root / "run"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    with open(root / "log.txt", "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "iterdeploy", "run", "--preset", str(preset), "--out",
             str(folder)], stdout=out, stderr=out, env=env,
        )  # fmt: skip
    _kill_after(proc, folder, "SELECT COUNT(*) FROM stages WHERE stage = 'curate'")
    logged = json.loads((folder / "tracking.json").read_text())
    assert all(keys == ["config", "r0/g0"] for keys in logged.values()), logged
    resume_run(folder)
    resume_run(folder)  # a finished run resumed: every generation is skipped, and not re-sent
    return folder


def _kill_after(proc: subprocess.Popen, folder: Path, sql: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before: {sql}"
        try:
            con = sqlite3.connect(f"file:{folder / 'store.sqlite'}?mode=ro", uri=True)
            count = con.execute(sql).fetchone()[0]
            con.close()
        except sqlite3.OperationalError:
            count = 0
        if count:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"timed out waiting for: {sql}")


def summaries(folder: Path) -> list[dict]:
    return json.loads((folder / "summary.json").read_text())["runs"][0]["generations"]


def assert_curve(points, expected) -> None:
    """Assert the (step, loss) points equal `expected` (values as float32 trackers keep them)."""
    assert [s for s, _ in points] == [s for s, _ in expected] and len(expected) > 0
    assert [v for _, v in points] == pytest.approx([v for _, v in expected], rel=1e-6)


def stored_losses(folder: Path, generation: int) -> list[tuple[int, float]]:
    con = sqlite3.connect(folder / "store.sqlite")
    (losses,) = con.execute(
        "SELECT losses FROM models WHERE run = 0 AND generation = ?", (generation,)
    ).fetchone()
    con.close()
    return [(int(s), float(v)) for s, v in json.loads(losses)]


def test_tensorboard_events_hold_each_generation_once(tracked_run):
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    logdir = tracked_run / "tracking" / "tensorboard"
    assert len(list(logdir.glob("events.out.tfevents.*"))) == 3  # the killed start, 2 resumes
    mux = EventMultiplexer(size_guidance={"scalars": 0, "tensors": 0})
    mux.AddRunsFromDirectory(str(logdir)).Reload()
    scalars = [e for run in mux.Runs() for e in _scalars(mux, run, "run0/pool_solved")]
    assert sorted((e.step, e.value) for e in scalars) == [
        (g["generation"], float(g["pool_solved"])) for g in summaries(tracked_run)
    ]
    losses = [
        (e.step, e.value) for run in mux.Runs() for e in _scalars(mux, run, "run0/train_loss/g1")
    ]
    assert_curve(losses, stored_losses(tracked_run, 1))
    copy = logdir / "datasets" / "r0-g1.jsonl"
    assert copy.read_bytes() == (tracked_run / "datasets" / "r0" / "g1.jsonl").read_bytes()


def _scalars(mux, run: str, tag: str):
    tags = mux.GetAccumulator(run).Tags()
    return mux.Scalars(run, tag) if tag in tags["scalars"] else []


def test_mlflow_file_store_holds_one_run_with_each_generation_once(tracked_run):
    import mlflow

    mlflow.set_tracking_uri((tracked_run / "tracking" / "mlruns").as_uri())
    found = mlflow.search_runs(experiment_names=["iterdeploy"], output_format="list")
    assert [r.data.tags["iterdeploy.run_id"] for r in found] == ["run"]
    run = found[0]
    assert run.data.params["training.learning_rate"] == "0.001"
    assert run.data.params["tracking.backends"] == '["tensorboard", "mlflow", "wandb"]'
    client = mlflow.MlflowClient()
    history = client.get_metric_history(run.info.run_id, "run0/pool_solved")
    assert sorted((m.step, m.value) for m in history) == [
        (g["generation"], float(g["pool_solved"])) for g in summaries(tracked_run)
    ]
    losses = client.get_metric_history(run.info.run_id, "run0/train_loss/g1")
    assert_curve(sorted((m.step, m.value) for m in losses), stored_losses(tracked_run, 1))
    local = client.download_artifacts(run.info.run_id, "datasets/r0-g1/g1.jsonl", str(tracked_run))
    assert Path(local).read_bytes() == (tracked_run / "datasets/r0/g1.jsonl").read_bytes()


def wandb_records(path: Path):
    """Yield the protobuf records of a W&B run file (a LevelDB-style log of 32 KiB blocks)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # the rest of a block too short for a header is padding
            pos += block - pos % block
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def test_wandb_offline_files_hold_each_generation_once(tracked_run):
    files = sorted((tracked_run / "tracking" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 3  # one W&B session per send: the config, generation 0, generation 1
    rows, artifacts, config = [], [], {}
    for path in files:
        for record in wandb_records(path):
            kind = record.WhichOneof("record_type")
            if kind == "history":
                rows.append({i.key or "/".join(i.nested_key): json.loads(i.value_json)
                             for i in record.history.item})  # fmt: skip
            elif kind == "artifact":
                artifacts.append(record.artifact.name)
            elif kind in ("config", "run"):  # the config given to init sits in the run record
                updates = (record.config if kind == "config" else record.run.config).update
                config.update({i.key: json.loads(i.value_json) for i in updates})
    solved = sorted(
        (r["generation"], r["run0/pool_solved"]) for r in rows if "run0/pool_solved" in r
    )
    assert solved == [(g["generation"], g["pool_solved"]) for g in summaries(tracked_run)]
    losses = [(r["run0/train_loss/g1/step"], r["run0/train_loss/g1"]) for r in rows
              if "run0/train_loss/g1" in r]  # fmt: skip
    assert_curve(losses, stored_losses(tracked_run, 1))
    assert artifacts == ["curated-run-r0-g1"]
    assert config["training"]["learning_rate"] == 0.001


def test_tracking_table_rejects_an_unknown_tracker():
    with pytest.raises(ConfigError, match="'tensorbord' is not allowed.*'tensorboard', 'mlflow'"):
        load_config(None, ["tracking.backends=['tensorbord']"])
