from __future__ import annotations

from pathlib import Path

import pytest

from iterdeploy.analysis import audit
from iterdeploy.analysis.data import DatasetRecord, RunData, TaskRecord
from iterdeploy.analysis.metrics import Group, group_runs
from iterdeploy.analysis.walks import plan_walks, walk_plan
from iterdeploy.records import StoredTrace


@pytest.fixture(scope="module")
def paper_audit(run_folders):
    return {t.name.split("_paper")[0]: t for t in audit.audit_run(run_folders["paper"])}


def test_audit_compares_all_valid_and_curated_as_the_store_says(run_folders, paper_audit, sql):
    folder = run_folders["paper"]
    # The final curated set (generation 2) chose from the pool traces of generations 0 and 1.
    all_n = sql(
        folder,
        "SELECT COUNT(*) AS n FROM traces tr JOIN tasks t USING (task_id) "
        "WHERE t.split = 'pool' AND tr.generation < 2",
    )[0]["n"]
    valid_n = sql(
        folder,
        "SELECT COUNT(*) AS n FROM traces tr JOIN tasks t USING (task_id) "
        "WHERE t.split = 'pool' AND tr.generation < 2 AND tr.valid = 1",
    )[0]["n"]
    curated_n = sql(folder, "SELECT SUM(size) AS n FROM datasets WHERE generation = 2")[0]["n"]
    rows = {r["set"]: r for r in paper_audit["audit_compare"].records()}
    assert (rows["all"]["traces"], rows["valid"]["traces"]) == (all_n, valid_n)
    assert rows["curated"]["traces"] == curated_n
    # The paper rule keeps one trace per solved task, the shortest: never longer on average.
    assert rows["curated"]["tasks"] == curated_n
    assert rows["curated"]["mean_plan_length"] <= rows["valid"]["mean_plan_length"]


def test_selection_bins_partition_every_set(paper_audit):
    records = paper_audit["audit_selection"].records()
    compare = {r["set"]: r["traces"] for r in paper_audit["audit_compare"].records()}
    features = {r["feature"] for r in records}
    assert {"plan length / reference", "reasoning tokens", "difficulty", "source generation"} <= (
        features
    )
    for feature in features:
        rows = [r for r in records if r["feature"] == feature]
        assert sum(r["all"] for r in rows) == compare["all"]
        assert sum(r["valid"] for r in rows) == compare["valid"]
        assert sum(r["curated"] for r in rows) == compare["curated"]
        for r in rows:
            assert r["p_valid"] == round(r["valid"] / r["all"], 4)
            assert r["p_curated"] == round(r["curated"] / r["all"], 4)


def test_paper_policy_never_curates_an_invalid_trace(paper_audit):
    for r in paper_audit["audit_selection"].records():
        assert r["curated"] <= r["valid"]


def test_drift_follows_the_curated_sets(run_folders, paper_audit, sql):
    rows = {r["generation"]: r for r in paper_audit["audit_drift"].records()}
    assert sorted(rows) == [1, 2]
    sizes = sql(run_folders["paper"], "SELECT generation, AVG(size) AS s FROM datasets GROUP BY 1")
    for r in sizes:
        assert rows[r["generation"]]["size"] == round(r["s"], 2)
    # The first set has nothing before it: everything in it is new.
    assert rows[1]["added_traces"] == rows[1]["size"]
    assert rows[1]["dropped_traces"] == 0


def test_blind_spots_on_fake_oracle_plans_are_empty(paper_audit):
    # The fake backend's valid plans are the reference plans: nothing is >= 2x the reference.
    for r in paper_audit["audit_blind_spots"].records():
        assert r["valid_ge_2x"] == 0


# ---- hand-made records: long valid plans, curation removing them ---------------------------


def _trace(gen, task, sample, valid, length, tokens=10):
    steps = tuple(f"(move s{i})" for i in range(length))
    return StoredTrace(
        0,
        gen,
        task,
        sample,
        "pool",
        valid,
        steps,
        reasoning_tokens=tokens,
        reason="ok" if valid else "x",
        checks={"short": length <= 4},
    )


def _data(traces, sources_by_gen):
    tasks = {
        "a": TaskRecord("a", "toy", "pool", "0", 2),
        "b": TaskRecord("b", "toy", "pool", "1", 3),
    }
    datasets = tuple(
        DatasetRecord(0, g, "paper", "{}", f"d{g}", len(src), f"g{g}.jsonl", tuple(src))
        for g, src in sources_by_gen.items()
    )
    by_gen = {}
    for t in traces:
        by_gen.setdefault((t.run, t.generation), []).append(t)
    solved = {}
    for t in traces:
        if t.valid:
            solved.setdefault((0, t.generation, "pool"), set()).add(t.task_id)
    return RunData(
        Path("mem"),
        "mem",
        "paper",
        tasks,
        tuple(traces),
        datasets,
        {0: (0, 1, 2)},
        {k: frozenset(v) for k, v in solved.items()},
        {k: tuple(v) for k, v in by_gen.items()},
    )


def test_blind_spot_counts_long_valid_plans_and_whether_curation_kept_them():
    traces = [
        _trace(0, "a", 0, True, 5),  # 2.5x the reference: long, curated into g1
        _trace(0, "b", 0, True, 3),  # reference length
        _trace(0, "b", 1, False, 9),
        _trace(1, "a", 0, True, 2),  # shorter: replaces the long one in g2
        _trace(1, "b", 0, True, 6),  # 2x: long, never curated
        _trace(2, "a", 0, True, 2),
    ]
    data = _data(traces, {1: [(0, "a", 0), (0, "b", 0)], 2: [(1, "a", 0), (0, "b", 0)]})
    group = Group("paper", ((data, 0),))
    rows = {r["generation"]: r for r in audit.blind_spots(group).records()}
    assert (rows[0]["valid"], rows[0]["valid_ge_2x"], rows[0]["entered_next_set"]) == (2, 1, 1)
    assert rows[0]["in_final_set"] == 0  # removed once a shorter plan came along
    assert (rows[1]["valid_ge_2x"], rows[1]["entered_next_set"]) == (1, 0)
    drift = {r["generation"]: r for r in audit.drift(group).records()}
    assert (drift[2]["added_traces"], drift[2]["dropped_traces"]) == (1, 1)
    assert drift[2]["new_tasks"] == 0
    checks = audit.counter_rewards(group).records()[0]
    # Valid traces failing "short" (length > 4): the 5- and 6-step plans; none is curated.
    assert (checks["valid"], checks["valid_failing"], checks["curated_failing"]) == (5, 2, 0)


def test_selection_rate_shows_the_length_preference():
    traces = [_trace(0, "a", s, True, 2 + 2 * s) for s in range(3)] + [_trace(0, "b", 0, True, 3)]
    data = _data(traces, {1: [(0, "a", 0), (0, "b", 0)]})
    data = RunData(
        data.folder,
        data.run_id,
        data.policy,
        data.tasks,
        data.traces,
        data.datasets,
        {0: (0, 1)},
        data.solved_sets,
        data.by_generation,
    )
    table = audit.selection(
        {
            name: [(data, t) for t in ts]
            for name, ts in {
                "all": traces,
                "valid": traces,
                "curated": [traces[0], traces[3]],
            }.items()
        },
        "paper",
    )
    by_bin = {r["bin"]: r for r in table.records() if r["feature"] == "plan length / reference"}
    assert by_bin["<= 1"]["p_curated"] == 1.0
    assert by_bin[">= 2"]["p_curated"] == 0.0
    assert by_bin["<= 1"]["lift"] == 2.0


def test_audit_of_a_run_without_curated_sets_says_so():
    data = _data([_trace(0, "a", 0, True, 2)], {})
    tables = audit.audit_tables(group_runs([data])[0])
    assert "no curated set yet" in tables[0].rows[0][0]


# ---- plan quality: hand-built plans on a real Blocksworld task -----------------------------

PROBLEM = """(define (problem stack-three)
  (:domain blocksworld)
  (:objects b1 b2 b3)
  (:init (arm-empty) (on-table b1) (on-table b2) (on-table b3) (clear b1) (clear b2) (clear b3))
  (:goal (and (on b1 b2) (on b2 b3))))
"""
REFERENCE = ("(pickup b2)", "(stack b2 b3)", "(pickup b1)", "(stack b1 b2)")
PLANS = {
    # plan: (steps applied, revisits, undone pairs)
    "reference": (REFERENCE, (4, 0, 0)),
    # stack, unstack (back to holding b2), stack again (back to b2 on b3): two undos
    "undo twice": (REFERENCE[:2] + ("(unstack b2 b3)", "(stack b2 b3)") + REFERENCE[2:], (6, 2, 2)),
    # a detour through b1 on b3 and back to the start: one undo, two revisited states
    "detour": (
        ("(pickup b1)", "(stack b1 b3)", "(unstack b1 b3)", "(putdown b1)", *REFERENCE),
        (8, 2, 1),
    ),
    # b2 is not clear once b1 is on it: the walk stops before the third step
    "inapplicable": (("(pickup b1)", "(stack b1 b2)", "(pickup b2)", "(pickup b1)"), (2, 0, 0)),
    "garbage": (("(fly b1)", "(pickup b1)"), (0, 0, 0)),
}


def _blocks_data(plans):
    task = TaskRecord("t", "blocksworld", "pool", "0", len(REFERENCE), PROBLEM)
    traces = [
        StoredTrace(0, 0, "t", i, "pool", plan[-1] == "(stack b1 b2)", plan, 5, reason="ok")
        for i, plan in enumerate(plans)
    ]
    data = RunData(Path("mem"), "mem", "paper", {"t": task}, tuple(traces), (), {0: (0,)}, {}, {})
    return data, traces


def test_walk_plan_counts_revisited_states_and_undone_steps_on_blocksworld():
    from iterdeploy.domains import DOMAINS
    from iterdeploy.pddl.parser import parse_domain, parse_problem
    from iterdeploy.pddl.validate import prepare

    checker = prepare(parse_domain(DOMAINS.get("blocksworld").domain_pddl), parse_problem(PROBLEM))
    for name, (plan, expected) in PLANS.items():
        walk = walk_plan(checker, plan)
        assert (walk.steps, walk.revisits, walk.undone) == expected, name
    assert checker.validate(list(PLANS["detour"][0])).valid  # a detour is still a valid plan


def test_plan_quality_table_compares_all_valid_and_curated():
    data, traces = _blocks_data([plan for plan, _ in PLANS.values()])
    walks = plan_walks([(data, t) for t in traces])
    assert [walks[(data.folder, t.key)].revisits for t in traces] == [0, 2, 2, 0, 0]
    sets = {
        "all": [(data, t) for t in traces],
        "valid": [(data, t) for t in traces if t.valid],  # reference, undo twice, detour
        "curated": [(data, traces[0])],
    }
    rows = {r["set"]: r for r in audit.plan_quality(sets, walks, "paper").records()}
    assert rows["all"]["plans"] == 5 and rows["all"]["mean_steps_applied"] == 4.0
    assert (rows["valid"]["mean_revisits"], rows["valid"]["share_with_revisit"]) == (1.33, 0.6667)
    assert (rows["valid"]["mean_undone_pairs"], rows["valid"]["share_with_undone_pair"]) == (
        1.0,
        0.6667,
    )
    assert rows["valid"]["mean_ratio_to_reference"] == (4 + 6 + 8) / 3 / 4
    assert (rows["curated"]["mean_revisits"], rows["curated"]["mean_ratio_to_reference"]) == (0, 1)
    # Hand-made records without a problem text get no walk (and no row error).
    toy = _data([_trace(0, "a", 0, True, 2)], {})
    assert plan_walks([(toy, t) for t in toy.traces]) == {}


def test_audit_of_the_store_replays_every_plan(run_folders, paper_audit, sql):
    rows = {r["set"]: r for r in paper_audit["audit_plan_quality"].records()}
    compare = {r["set"]: r for r in paper_audit["audit_compare"].records()}
    with_plan = sql(
        run_folders["paper"],
        "SELECT COUNT(*) AS n FROM traces tr JOIN tasks t USING (task_id) "
        "WHERE t.split = 'pool' AND tr.generation < 2 AND tr.plan != '[]'",
    )[0]["n"]
    assert rows["all"]["plans"] == with_plan
    assert rows["curated"]["plans"] == compare["curated"]["traces"]
    # The fake backend's valid plans are the planner's: no state is ever visited twice.
    assert rows["valid"]["mean_revisits"] == 0 and rows["curated"]["share_with_undone_pair"] == 0
    assert rows["all"]["mean_ratio_to_reference"] == compare["all"]["mean_ratio_to_reference"]
