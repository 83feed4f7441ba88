from __future__ import annotations

import pytest

from iterdeploy.analysis.data import open_store
from iterdeploy.errors import ConfigError, IterdeployError, StoreError
from iterdeploy.loop import gate as gov

TABLES = ("tasks", "traces", "datasets", "dataset_examples", "models", "stages", "generations")


def _snapshot(sql, folder):
    with open_store(folder) as store:
        digests = store.digests()
    counts = {t: sql(folder, f"SELECT COUNT(*) AS n FROM {t}")[0]["n"] for t in TABLES}
    return digests, counts


def _rate(sql, folder, run, gen, split="pool"):
    solved = sql(
        folder,
        "SELECT COUNT(DISTINCT tr.task_id) AS n FROM traces tr JOIN tasks t USING (task_id) "
        "WHERE tr.run = ? AND tr.generation = ? AND tr.valid = 1 AND t.split = ?",
        (run, gen, split),
    )[0]["n"]
    total = sql(folder, "SELECT COUNT(*) AS n FROM tasks WHERE split = ?", (split,))[0]["n"]
    return solved / total


def _worse_pair(sql, folder):
    # A (worse, better) pair of generations of run 0 by pool solve rate.
    rates = {g: _rate(sql, folder, 0, g) for g in (0, 1, 2)}
    worse = min(rates, key=rates.get)
    better = max(rates, key=rates.get)
    assert rates[worse] < rates[better], f"the fixture run needs two different rates: {rates}"
    return worse, better, rates


def test_the_loop_deploys_each_generation_and_the_pointer_is_the_newest(run_folders):
    with open_store(run_folders["paper"]) as store:
        rows = gov.history(store, 0)
        assert [r.generation for r in rows] == [0, 1, 2]
        assert {r.action for r in rows} == {"deploy"}
        assert gov.deployed(store, 0) == 2


def test_gate_decision_follows_the_configured_drops(run_folders, sql):
    folder = run_folders["paper"]
    worse, better, rates = _worse_pair(sql, folder)
    with open_store(folder) as store:
        strict = gov.evaluate_gate(store, 0, worse, better, gov.GateConfig(split="pool"))
        loose = gov.evaluate_gate(
            store, 0, worse, better, gov.GateConfig("pool", max_drop=1.0, max_group_drop=1.0)
        )
    assert strict.solve_rate == pytest.approx(rates[worse])
    assert strict.reference_rate == pytest.approx(rates[better])
    assert not strict.passed and "solve rate fell" in strict.reasons[0]
    assert loose.passed and loose.reasons == ()


def test_gate_chain_releases_only_generations_that_pass(run_folders):
    with open_store(run_folders["paper"]) as store:
        chain = gov.gate_chain(store, 0, gov.GateConfig(split="pool"))
        released = 0
        for d in chain:
            assert d.reference == released
            released = d.candidate if d.passed else released
        assert gov.gated_generation(store, 0, gov.GateConfig(split="pool")) == released


def test_promote_and_rollback_move_only_the_pointer(paper_copy, sql):
    worse, better, _ = _worse_pair(sql, paper_copy)
    before = _snapshot(sql, paper_copy)
    loose = gov.GateConfig("pool", max_drop=1.0, max_group_drop=1.0)
    gov.promote(paper_copy, 0, better, loose, reason="best pool rate")
    with pytest.raises(IterdeployError, match="--force") as refused:
        gov.promote(paper_copy, 0, worse, gov.GateConfig(split="pool"))
    assert refused.value.exit_code == 1  # a check that ran and failed
    forced = gov.promote(
        paper_copy, 0, worse, gov.GateConfig(split="pool"), reason="drill", force=True
    )
    assert not forced.passed
    back = gov.rollback(paper_copy, 0, reason="undo drill")
    assert back.generation == better and back.action == "rollback"
    assert _snapshot(sql, paper_copy) == before  # traces, datasets, models... untouched
    with open_store(paper_copy) as store:
        rows = gov.history(store, 0)
        assert [r.action for r in rows[-3:]] == ["promote", "promote", "rollback"]
        assert "drill" in rows[-2].reason and "FAIL" in rows[-2].reason
        assert gov.deployed(store, 0) == better
        assert gov.history(store, 1)[-1].action == "deploy"  # the other run is untouched
    events = sql(paper_copy, "SELECT kind FROM events WHERE kind IN ('promote', 'rollback')")
    assert [e["kind"] for e in events] == ["promote", "promote", "rollback"]


def test_rollback_to_the_gated_generation(paper_copy):
    config = gov.GateConfig(split="pool")
    with open_store(paper_copy) as store:
        target = gov.gated_generation(store, 0, config)
    if target == 2:  # already deployed: the gate released the newest generation
        assert gov.rollback(paper_copy, 0, config=config, gated=True) is None
    else:
        assert gov.rollback(paper_copy, 0, config=config, gated=True).generation == target


def _failing(folder, config):
    with open_store(folder) as store:
        failed = [d.candidate for d in gov.gate_chain(store, 0, config) if not d.passed]
    assert failed, "the fixture run needs a generation that fails the gate on the pool"
    return failed[0]


def test_promote_of_the_deployed_generation_writes_nothing(paper_copy, sql):
    before = sql(paper_copy, "SELECT COUNT(*) AS n FROM deployments")[0]["n"]
    assert gov.promote(paper_copy, 0, 2, gov.GateConfig(split="pool")) is None
    assert sql(paper_copy, "SELECT COUNT(*) AS n FROM deployments")[0]["n"] == before


def test_rollback_to_a_generation_the_gate_failed_needs_force(paper_copy):
    config = gov.GateConfig(split="pool")
    failing = _failing(paper_copy, config)
    gov.promote(paper_copy, 0, 0, gov.GateConfig("pool", max_drop=1.0, max_group_drop=1.0))
    with pytest.raises(IterdeployError, match=f"generation {failing} fails the gate") as refused:
        gov.rollback(paper_copy, 0, to=failing, config=config)
    assert refused.value.exit_code == 1 and "--force" in str(refused.value)
    with open_store(paper_copy) as store:
        assert gov.deployed(store, 0) == 0
    forced = gov.rollback(paper_copy, 0, to=failing, config=config, force=True, reason="drill")
    assert forced.generation == failing and "drill" in forced.reason


def test_rollback_takes_to_or_gated_not_both(paper_copy):
    with pytest.raises(ConfigError, match="--to and --gated exclude each other"):
        gov.rollback(paper_copy, 0, to=0, gated=True)


def test_bad_requests_are_refused_with_the_fix(paper_copy):
    with pytest.raises(ConfigError, match="not evaluated; choose one of"):
        gov.promote(paper_copy, 0, 7, gov.GateConfig())
    with pytest.raises(StoreError, match="no deployment yet"):
        gov.rollback(paper_copy, 5)
    with pytest.raises(ConfigError, match="max_drop"):
        gov.GateConfig(max_drop=2.0)
    with pytest.raises(ConfigError, match="group_by"):
        gov.GateConfig(group_by=("colour",))
