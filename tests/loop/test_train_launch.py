"""The loop's train stage with a [training.launch] table: real 2-process gloo DDP training.

The fake backend deploys (it does not read the model), the pool, validator and curation are
real, and generation 1 is trained by `torch.distributed.run` over 2 CPU processes
(`training.launch.cpu = true`), through the same `training.train` call as an in-process run.
A driver killed mid-launch must take the launch with it, and its resume must store the run an
uninterrupted driver stores.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import time
from pathlib import Path

import pytest
from loop_helpers import fake_preset, start_cli

from iterdeploy.config import load_config
from iterdeploy.loop.orchestrator import read_summaries, resume_run, start_run
from iterdeploy.loop.store import Store
from iterdeploy.training.sft import weights_digest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory, cache, test_model):
    root = tmp_path_factory.mktemp("ddp-run")
    launch = f"[training.launch]\nprocesses = 2\ncpu = true\nmain_port = {free_port()}\n"
    preset = fake_preset(root / "p.toml", test_model, extra=launch)
    config = load_config(preset, ["loop.generations=1", "training.logging_steps=1"])
    return start_run(config, root / "run")


def test_the_train_stage_runs_the_launch_and_records_the_model(ddp_run):
    assert [s.generation for s in read_summaries(ddp_run)] == [0, 1]
    con = sqlite3.connect(ddp_run / "store.sqlite")
    con.row_factory = sqlite3.Row
    model = con.execute("SELECT * FROM models WHERE generation = 1").fetchone()
    curated = con.execute("SELECT size FROM datasets WHERE generation = 1").fetchone()["size"]
    con.close()
    assert curated > 0 and model["kind"] == "full"
    folder = ddp_run / model["adapter_path"]
    assert model["adapter_digest"] == weights_digest(folder)
    assert json.loads((folder / "train.json").read_text())["digest"] == model["adapter_digest"]
    assert json.loads(model["train_config"])["launch"]["processes"] == 2
    losses = json.loads(model["losses"])
    # batch_size 8 per process, 2 processes: one optimizer step per 16 curated examples
    assert [step for step, _ in losses] == list(range(1, -(-curated // 16) + 1))
    assert model["wall_seconds"] > 0
    assert not folder.with_name(folder.name + ".job").exists()


def test_a_finished_launch_run_resumes_as_a_no_op(ddp_run):
    with Store(ddp_run / Store.FILENAME) as store:
        before = store.digests(), store.query("SELECT COUNT(*) AS n FROM events")[0]["n"]
    resume_run(ddp_run)
    with Store(ddp_run / Store.FILENAME) as store:
        after = store.digests(), store.query("SELECT COUNT(*) AS n FROM events")[0]["n"]
    assert after == before


def launch_processes(job: Path) -> list[int]:
    """Return the pids of live processes whose command line names the `job` folder."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(job).encode() in cmdline.read_bytes():
                pids.append(int(cmdline.parent.name))
        except OSError:  # the process ended while we looked
            continue
    return pids


def test_killed_during_the_launch_no_worker_survives_and_resume_gives_the_same_run(
    ddp_run, tmp_path
):
    preset = ddp_run.parent / "p.toml"
    folder = tmp_path / "killed"
    job = folder / "adapters" / "r0" / "g1.job"
    args = ["--set", "loop.generations=1", "--set", "training.logging_steps=1"]
    proc = start_cli(
        ["run", "--preset", str(preset), "--out", str(folder), *args], tmp_path / "log"
    )
    deadline = time.monotonic() + 300
    while len(launch_processes(job)) < 3:  # the launcher and its 2 workers are up
        assert proc.poll() is None and time.monotonic() < deadline, "the launch never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    try:
        while launch_processes(job):  # the launcher gets SIGTERM and stops its workers
            assert time.monotonic() < deadline, f"left running: {launch_processes(job)}"
            time.sleep(0.1)
    finally:
        for pid in launch_processes(job):  # only after a failure: do not leave them running
            os.kill(pid, signal.SIGKILL)
    assert not list(job.glob("rank*/result.json")), "a worker trained on after the driver died"
    resume_run(folder)
    with Store(ddp_run / Store.FILENAME) as a, Store(folder / Store.FILENAME) as b:
        assert b.digests() == a.digests()  # the same adapter digest as the uninterrupted run
