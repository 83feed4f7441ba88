"""The full loop with the real transformers backend and real training (tiny model, tiny pool)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from loop_helpers import kill_when, real_preset, start_cli, warm_up

from iterdeploy.config import load_config
from iterdeploy.loop.orchestrator import read_summaries, start_run
from iterdeploy.loop.setup import load_tasks
from iterdeploy.loop.store import Store


@pytest.fixture(scope="module")
def warm_model(tmp_path_factory, cache, test_model):
    root = tmp_path_factory.mktemp("warm")
    tasks = load_tasks(load_config(real_preset(root / "p.toml", test_model)))
    return warm_up(test_model, [t for t in tasks if t.split == "pool"], root / "warm")


@pytest.fixture(scope="module")
def real_run(tmp_path_factory, warm_model):
    root = tmp_path_factory.mktemp("real-run")
    preset = real_preset(root / "p.toml", warm_model)
    return preset, start_run(load_config(preset), root / "run")


def test_two_generations_deploy_validate_curate_and_train_for_real(real_run):
    _, folder = real_run
    summaries = read_summaries(folder)
    assert [s.generation for s in summaries] == [0, 1, 2]
    assert summaries[0].pool_solved > 0, "the warmed-up model should solve some pool tasks"
    con = sqlite3.connect(folder / "store.sqlite")
    models = con.execute("SELECT generation, kind, adapter_path, losses FROM models").fetchall()
    reasons = {r for (r,) in con.execute("SELECT DISTINCT reason FROM traces")}
    con.close()
    assert [(g, k) for g, k, _, _ in models] == [(0, "base"), (1, "full"), (2, "full")]
    for _, _, path, losses in models[1:]:
        assert (folder / path / "model.safetensors").is_file() and json.loads(losses)
    assert "ok" in reasons and len(reasons) > 1  # real outputs: valid and invalid verdicts
    assert summaries[1].curated_size == summaries[0].pool_solved  # paper: one trace per task


def test_real_model_kill_during_training_and_deployment_then_resume(real_run, tmp_path):
    preset, reference = real_run
    folder = tmp_path / "killed"
    log = tmp_path / "log.txt"
    proc = start_cli(["run", "--preset", str(preset), "--out", str(folder)], log)
    kill_when(
        proc,
        folder / "store.sqlite",
        "SELECT COUNT(*) FROM stages WHERE generation = 1 AND stage = 'curate'",
    )
    proc = start_cli(["resume", str(folder)], log)
    kill_when(
        proc,
        folder / "store.sqlite",
        "SELECT COUNT(*) FROM stages WHERE generation = 1 AND stage = 'deploy'",
    )
    proc = start_cli(["resume", str(folder)], log)
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    with Store(reference / "store.sqlite") as a, Store(folder / "store.sqlite") as b:
        assert b.digests() == a.digests()
