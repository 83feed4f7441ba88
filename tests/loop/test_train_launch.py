"""The loop's train stage with a [training.launch] table: real 2-process gloo DDP training.

The fake backend deploys (it does not read the model), the pool, validator and curation are
real, and generation 1 is trained by `torch.distributed.run` over 2 CPU processes
(`training.launch.cpu = true`), through the same `training.train` call as an in-process run.
"""

from __future__ import annotations

import json
import socket
import sqlite3

import pytest
from loop_helpers import fake_preset

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
