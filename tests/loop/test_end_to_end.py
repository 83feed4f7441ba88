"""The full loop with the real transformers backend and real training (tiny model, tiny pool)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest
from loop_helpers import kill_when, real_preset, start_cli, warm_up

from iterdeploy.config import load_config
from iterdeploy.loop.orchestrator import load_run_config, read_summaries, start_run
from iterdeploy.loop.setup import load_tasks, make_backend, prompt_for
from iterdeploy.loop.stages import chunked
from iterdeploy.loop.store import Store

# A gated run whose fine-tunes are harmful: a learning rate this high wrecks the model, so the
# gate must keep the base model deployed and the pool must be sampled from it.
GATED = [
    "loop.deploy=gated",
    "loop.heldout_samples=4",
    "generation.temperature=0.3",
    "training.learning_rate=0.05",
]


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


@pytest.fixture(scope="module")
def gate_model(tmp_path_factory, cache, test_model):
    """A warmed-up base that also knows the held-out tasks, so the gate has something to keep."""
    root = tmp_path_factory.mktemp("gate-warm")
    tasks = load_tasks(load_config(real_preset(root / "p.toml", test_model)))
    heldout = [t for t in tasks if t.split == "heldout"]
    return warm_up(test_model, tasks + heldout * 2, root / "warm")


@pytest.fixture(scope="module")
def gated_run(tmp_path_factory, gate_model):
    root = tmp_path_factory.mktemp("gated-real")
    preset = real_preset(root / "p.toml", gate_model)
    return preset, start_run(load_config(preset, GATED), root / "reference")


def _regenerate(folder, generation, split, model):
    """Return the texts the model of `model` gives for the stored traces of (generation, split),
    by task then sample, generated again in the loop's chunks with the stored seeds."""
    config = load_run_config(folder)
    tasks = sorted((t for t in load_tasks(config) if t.split == split), key=lambda t: t.id)
    prompts = {t.id: prompt_for(config, t) for t in tasks}
    con = sqlite3.connect(folder / "store.sqlite")
    seeds = dict(
        con.execute(
            "SELECT DISTINCT task_id, seed FROM traces WHERE generation = ?", (generation,)
        ).fetchall()
    )
    (path,) = con.execute(
        "SELECT adapter_path FROM models WHERE generation = ?", (model,)
    ).fetchone()
    con.close()
    n = config.generation.n if split == "pool" else config.loop.heldout_samples
    params = dataclasses.replace(config.generation, n=n)
    texts = []
    with make_backend(config, config.model.base, tasks, prompts) as backend:
        for part in chunked(tasks, config.loop.chunk_tasks):
            rows = backend.generate(
                [prompts[t.id] for t in part],
                params,
                seeds=[seeds[t.id] for t in part],
                adapter=None if path is None else folder / path,
            )
            texts += [tr.text for row in rows for tr in row]
    return texts


def _stored(folder, generation, split):
    con = sqlite3.connect(folder / "store.sqlite")
    try:
        return [
            text
            for (text,) in con.execute(
                "SELECT tr.text FROM traces tr JOIN tasks t USING (task_id) WHERE tr.generation = ?"
                " AND t.split = ? ORDER BY tr.task_id, tr.sample",
                (generation, split),
            )
        ]
    finally:
        con.close()


def test_gated_real_run_samples_the_pool_from_the_model_the_gate_deployed(gated_run):
    _, folder = gated_run
    con = sqlite3.connect(folder / "store.sqlite")
    gates = [
        json.loads(d)
        for (d,) in con.execute("SELECT detail FROM events WHERE kind = 'gate' ORDER BY generation")
    ]
    kinds = [k for (k,) in con.execute("SELECT kind FROM models ORDER BY generation")]
    con.close()
    summaries = read_summaries(folder)
    assert summaries[0].heldout_solved > 0, "the warmed-up base should solve held-out tasks"
    assert kinds == ["base", "full", "full"]  # both fine-tunes ran (and wrecked the model)
    assert [(g["passed"], g["deployed"]) for g in gates] == [(False, 0), (False, 0)]
    assert [s.deployed for s in summaries] == [0, 0, 0]
    for gen in (1, 2):
        # Held-out traces come from the candidate, pool traces from the deployed base model.
        assert _stored(folder, gen, "heldout") == _regenerate(folder, gen, "heldout", gen)
        pool = _stored(folder, gen, "pool")
        assert pool == _regenerate(folder, gen, "pool", 0)
        assert pool != _regenerate(folder, gen, "pool", gen)


def test_gated_real_run_killed_after_the_gate_resumes_with_the_deployed_model(gated_run, tmp_path):
    preset, reference = gated_run
    folder = tmp_path / "killed"
    log = tmp_path / "log.txt"
    sets = [arg for item in GATED for arg in ("--set", item)]
    proc = start_cli(["run", "--preset", str(preset), *sets, "--out", str(folder)], log)
    kill_when(
        proc,
        folder / "store.sqlite",
        "SELECT COUNT(*) FROM stages WHERE generation = 1 AND stage = 'gate'",
    )
    proc = start_cli(["resume", str(folder)], log)
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    with Store(reference / "store.sqlite") as a, Store(folder / "store.sqlite") as b:
        assert b.digests() == a.digests()
