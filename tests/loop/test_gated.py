"""loop.deploy = "gated": the gate's bookkeeping, and kill -9 + resume, on the fake backend.

With the fake backend (which ignores the adapter) and loop.seed = 2, the default gate fails
generation 1 (a difficulty group loses held-out tasks) and passes generation 2 against the
base model, so the run holds both decisions. Which model samples the pool is checked on real
models in test_end_to_end.py.
"""

from __future__ import annotations

import json

import pytest
from loop_helpers import fake_preset, kill_when, rows, start_cli

from iterdeploy.config import load_config
from iterdeploy.errors import ConfigError
from iterdeploy.loop.gate import gate_chain, history
from iterdeploy.loop.orchestrator import load_run_config, read_summaries, start_run, summary_line
from iterdeploy.loop.store import Store

GATED = ["loop.seed=2", "loop.deploy=gated"]


@pytest.fixture(scope="module")
def gated(tmp_path_factory, cache, test_model):
    root = tmp_path_factory.mktemp("gated-run")
    preset = fake_preset(root / "p.toml", test_model)
    return preset, start_run(load_config(preset, GATED), root / "reference")


def test_the_loop_follows_the_gate_and_records_each_decision(gated):
    _, folder = gated
    config = load_run_config(folder)
    gates = {
        r["generation"]: json.loads(r["detail"])
        for r in rows(folder, "SELECT generation, detail FROM events WHERE kind = 'gate'")
    }
    assert sorted(gates) == [1, 2]  # generation 0 (the base model) is deployed ungated
    assert [(g["passed"], g["reference"], g["deployed"]) for g in gates.values()] == [
        (False, 0, 0),  # generation 1 fails against the base: the base stays deployed
        (True, 0, 2),  # generation 2 passes against the base: it is deployed
    ]
    # The loop's decisions are the gate's own walk over the finished run (same thresholds).
    with Store(folder / "store.sqlite") as store:
        chain = gate_chain(store, 0, config.gate)
        deployments = history(store, 0)
    assert [(d.candidate, d.reference, d.passed) for d in chain] == [(1, 0, False), (2, 0, True)]
    assert [(d.generation, d.action) for d in deployments] == [(0, "deploy")] * 2 + [(2, "deploy")]
    assert deployments[1].reason.startswith("loop gate: run 0: generation 1 vs 0")
    assert "FAIL" in deployments[1].reason
    assert deployments[1].reason.endswith("generation 0 stays deployed")
    assert "PASS" in deployments[2].reason
    # Held-out tasks are deployed (with model n) before the gate, the pool after it.
    order = [
        (r["generation"], r["stage"], r["chunk"])
        for r in rows(folder, "SELECT generation, stage, chunk FROM stages ORDER BY rowid")
    ]
    for gen in (1, 2):
        pool, heldout = (0, 1, 2), (3,)  # 18 pool then 6 held-out tasks, 8 per chunk
        gate = order.index((gen, "gate", 0))
        assert all(order.index((gen, "deploy", c)) < gate for c in heldout)
        assert all(order.index((gen, "deploy", c)) > gate for c in pool)


def test_summary_json_names_the_deployed_generation(gated):
    _, folder = gated
    summaries = read_summaries(folder)
    assert [s.deployed for s in summaries] == [0, 0, 2]
    assert "(pool sampled by gen 0)" in summary_line(summaries[1])
    assert "(pool sampled by" not in summary_line(summaries[2])
    data = json.loads((folder / "summary.json").read_text())
    assert [g["deployed"] for g in data["runs"][0]["generations"]] == [0, 0, 2]


def test_gated_config_errors_name_the_key_and_the_choices(test_model, tmp_path):
    preset = fake_preset(tmp_path / "p.toml", test_model)
    with pytest.raises(ConfigError, match="loop.deploy = 'latest'.*'newest'.*'gated'"):
        load_config(preset, ["loop.deploy=latest"])
    with pytest.raises(ConfigError, match="gate.split = 'pool'.*'heldout'"):
        load_config(preset, [*GATED, "gate.split=pool"])
    with pytest.raises(ConfigError, match="pool.heldout = 0.0"):
        load_config(preset, [*GATED, "pool.heldout=0.0"])
    with pytest.raises(ConfigError, match="gate.max_drop = 1.5"):
        load_config(preset, [*GATED, "gate.max_drop=1.5"])
    with pytest.raises(ConfigError, match="gate.drop = 0.1 is not allowed: expected one of the"):
        load_config(preset, [*GATED, "gate.drop=0.1"])


# Kill points of a gated run (kills during training are test_resume.py's): generation 1's
# held-out chunk stored but not gated; generation 2 gated but its pool not deployed.
KILL_POINTS = [
    "SELECT COUNT(*) FROM stages WHERE generation = 1 AND stage = 'deploy' AND chunk = 3",
    "SELECT COUNT(*) FROM stages WHERE generation = 2 AND stage = 'gate'",
]


def test_kill_9_in_a_gated_run_then_resume_matches_an_uninterrupted_run(gated, tmp_path):
    preset, reference = gated
    folder = tmp_path / "killed"
    log = tmp_path / "log.txt"
    sets = [arg for item in GATED for arg in ("--set", item)]
    proc = start_cli(["run", "--preset", str(preset), *sets, "--out", str(folder)], log)
    kill_when(proc, folder / "store.sqlite", KILL_POINTS[0])
    for point in KILL_POINTS[1:]:
        proc = start_cli(["resume", str(folder)], log)
        kill_when(proc, folder / "store.sqlite", point)
    proc = start_cli(["resume", str(folder)], log)
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    with Store(reference / "store.sqlite") as a, Store(folder / "store.sqlite") as b:
        assert b.digests() == a.digests()
        markers = "SELECT run, generation, stage, chunk FROM stages ORDER BY 1, 2, 3, 4"
        assert [tuple(r) for r in b.query(markers)] == [tuple(r) for r in a.query(markers)]
        moves = "SELECT run, generation, action, reason FROM deployments ORDER BY id"
        assert [tuple(r) for r in b.query(moves)] == [tuple(r) for r in a.query(moves)]
    assert (folder / "summary.json").read_text() == (
        reference / "summary.json"
    ).read_text().replace(reference.name, folder.name)


def test_the_report_table_shows_the_model_that_sampled_each_pool(gated):
    from iterdeploy.analysis.data import load_run
    from iterdeploy.analysis.governance import loop_deployments_table

    _, folder = gated
    records = loop_deployments_table([load_run(folder)]).records()
    assert [(r["generation"], r["pool_sampled_by"], r["gate"]) for r in records] == [
        (0, 0, "-"),
        (1, 0, "fail"),
        (2, 2, "pass"),
    ]
    assert records[1]["gated_against"] == 0 and "lost" in records[1]["reasons"]
