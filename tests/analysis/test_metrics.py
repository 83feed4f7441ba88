from __future__ import annotations

import sqlite3
from pathlib import Path
from statistics import fmean

import pytest

from iterdeploy.analysis import metrics
from iterdeploy.analysis.data import RunData, TaskRecord, load_run
from iterdeploy.domains.pool import content_key
from iterdeploy.errors import ConfigError, StoreError
from iterdeploy.records import parse_trace_id


def _solved_sql(sql, folder, run, gen, split):
    rows = sql(
        folder,
        "SELECT DISTINCT tr.task_id FROM traces tr JOIN tasks t USING (task_id) "
        "WHERE tr.run = ? AND tr.generation = ? AND tr.valid = 1 AND t.split = ?",
        (run, gen, split),
    )
    return {r["task_id"] for r in rows}


@pytest.fixture(scope="module")
def groups(run_folders):
    return metrics.group_runs([load_run(run_folders["paper"]), load_run(run_folders["none"])])


def test_runs_are_grouped_by_policy_with_k_runs_each(groups):
    assert [g.policy for g in groups] == ["paper", "none"]
    assert [g.k for g in groups] == [2, 2]
    assert groups[0].generations == [0, 1, 2]


@pytest.mark.parametrize("split", ["pool", "heldout"])
def test_solved_per_generation_matches_the_store(run_folders, groups, split, sql):
    table = metrics.solved_per_generation(groups, split)
    assert len(table.rows) == 2 * 3
    for row in table.records():
        folder = run_folders[row["policy"]]
        per_run = [_solved_sql(sql, folder, run, row["generation"], split) for run in (0, 1)]
        counts = [len(s) for s in per_run]
        assert row["mean"] == round(fmean(counts), 2)
        assert (row["min"], row["max"]) == (min(counts), max(counts))
        assert row["unanimous@k"] == len(per_run[0] & per_run[1])
        tasks = sql(folder, "SELECT COUNT(*) AS n FROM tasks WHERE split = ?", (split,))[0]["n"]
        assert row["tasks"] == tasks > 0
        problem = {
            r["task_id"]: content_key(r["problem"])
            for r in sql(folder, "SELECT task_id, problem FROM tasks WHERE split = ?", (split,))
        }
        assert row["problems"] == len(set(problem.values()))
        solved_problems = [len({problem[t] for t in s}) for s in per_run]
        assert row["problems mean"] == round(fmean(solved_problems), 2)


def test_solved_per_generation_counts_copies_of_a_problem_once():
    def problem(name, goal):
        return f"(define (problem {name}) (:domain blocksworld)\n(:goal (and {goal})))\n"

    tasks = {
        "h1": TaskRecord("h1", "blocksworld", "heldout", "0", 2, problem("h1", "(on a b)")),
        "h2": TaskRecord("h2", "blocksworld", "heldout", "0", 2, problem("h2", "(on a b)")),
        "h3": TaskRecord("h3", "blocksworld", "heldout", "0", 2, problem("h3", "(on b a)")),
    }
    data = RunData(
        folder=Path("runs/x"),
        run_id="x",
        policy="paper",
        tasks=tasks,
        traces=(),
        datasets=(),
        generations={0: (0,)},
        solved_sets={(0, 0, "heldout"): frozenset({"h1", "h2"})},
        by_generation={},
    )
    table = metrics.solved_per_generation([metrics.Group("paper", ((data, 0),))], "heldout")
    (row,) = table.records()
    assert (row["tasks"], row["mean"], row["problems"], row["problems mean"]) == (3, 2, 2, 1)


def test_headline_relative_increase_and_final_rate(groups):
    for row in metrics.headline(groups, "pool").records():
        assert row["final_generation"] == 2
        assert row["final_rate"] == round(row["final_mean"] / row["tasks"], 4)
        if row["base_mean"]:
            expected = 100 * (row["final_mean"] - row["base_mean"]) / row["base_mean"]
            assert row["relative_increase_pct"] == pytest.approx(expected, abs=0.05)


def test_difficulty_rows_add_up_to_the_totals(groups):
    totals = {
        (r["policy"], r["generation"]): r["mean"]
        for r in metrics.solved_per_generation(groups, "pool").records()
    }
    levels = metrics.solved_per_difficulty(groups, "pool").records()
    assert {r["difficulty"] for r in levels} == {"0", "1", "2"}
    for (policy, gen), total in totals.items():
        parts = [r[f"g{gen}"] for r in levels if r["policy"] == policy]
        assert sum(parts) == pytest.approx(total, abs=0.02)
        assert all(0 <= r[f"g{gen}"] <= r["tasks"] for r in levels)


def test_curated_sizes_and_ablation_match_the_datasets_table(run_folders, groups, sql):
    sizes = metrics.curated_sizes(groups).records()
    ablation = metrics.ablation(groups, "pool")
    assert ablation is not None
    assert ablation.columns[1:] == ("paper solved", "paper curated", "none solved", "none curated")
    for row in sizes:
        stored = [
            r["size"]
            for r in sql(
                run_folders[row["policy"]],
                "SELECT size FROM datasets WHERE generation = ?",
                (row["generation"],),
            )
        ]
        assert row["mean"] == round(fmean(stored), 2)
        assert (row["min"], row["max"]) == (min(stored), max(stored))
        by_gen = {r["generation"]: r for r in ablation.records()}
        assert by_gen[row["generation"]][f"{row['policy']} curated"] == row["mean"]
    # The ablation keeps every untruncated trace, the paper rule at most one per task.
    paper = {r["generation"]: r["mean"] for r in sizes if r["policy"] == "paper"}
    none = {r["generation"]: r["mean"] for r in sizes if r["policy"] == "none"}
    assert all(none[g] > paper[g] for g in paper)


def test_one_policy_has_no_ablation_table(run_folders):
    assert metrics.ablation(metrics.group_runs([load_run(run_folders["paper"])]), "pool") is None


def test_regressions_are_tasks_solved_before_and_lost_after(run_folders, groups, sql):
    summary, listing = metrics.regressions(groups)
    folder = run_folders["paper"]
    expected = set()
    for run in (0, 1):
        for split in ("pool", "heldout"):
            for gen in (1, 2):
                lost = _solved_sql(sql, folder, run, gen - 1, split) - _solved_sql(
                    sql, folder, run, gen, split
                )
                expected |= {(run, gen, split, t) for t in lost}
    got = {
        (r["run"], r["generation"], r["split"], r["task_id"])
        for r in listing.records()
        if r["policy"] == "paper"
    }
    assert got == expected
    lost_total = sum(r["lost"] for r in summary.records() if r["policy"] == "paper")
    assert lost_total == len(expected)


def test_plan_and_tokens_average_the_shortest_valid_plan(run_folders, groups, sql):
    folder = run_folders["paper"]
    rows = sql(
        folder,
        "SELECT tr.run, tr.task_id, MIN(tr.plan_length) AS n FROM traces tr JOIN tasks t "
        "USING (task_id) WHERE tr.generation = 0 AND tr.valid = 1 AND t.split = 'pool' "
        "GROUP BY tr.run, tr.task_id",
    )
    table = metrics.plan_and_tokens(groups).records()
    gen0 = next(r for r in table if (r["policy"], r["generation"]) == ("paper", 0))
    assert gen0["solved"] == len(rows)
    assert gen0["mean_plan_length"] == round(fmean(r["n"] for r in rows), 2)


def test_format_table_prints_header_and_rows(groups):
    text = metrics.format_table(metrics.curated_sizes(groups))
    lines = text.splitlines()
    assert lines[0].startswith("Curated-set sizes")
    assert lines[1].split() == ["policy", "generation", "runs", "mean", "min", "max"]
    assert len(lines) == 2 + 4


def test_load_run_rejects_a_folder_without_a_store(tmp_path):
    with pytest.raises(StoreError, match="not a run folder"):
        load_run(tmp_path)


def test_trace_ids_round_trip_and_reject_garbage():
    assert parse_trace_id("1/2/blocksworld-0003/0") == (1, 2, "blocksworld-0003", 0)
    with pytest.raises(ConfigError, match="RUN/GENERATION/TASK_ID/SAMPLE"):
        parse_trace_id("1/x/task/0")


def test_an_unfinished_run_is_read_up_to_its_last_evaluated_generation(paper_copy):
    # As if run 1 was killed before evaluating generation 2: its traces are ignored.
    con = sqlite3.connect(paper_copy / "store.sqlite")
    with con:
        con.execute("DELETE FROM stages WHERE run = 1 AND generation = 2 AND stage = 'evaluate'")
    con.close()
    data = load_run(paper_copy)
    assert data.generations == {0: (0, 1, 2), 1: (0, 1)}
    assert not data.traces_of(1, 2)
    assert metrics.group_runs([data])[0].generations == [0, 1]


def test_paper_table_has_a_block_per_domain_that_matches_the_store(two_domains, sql):
    table = metrics.paper_table(metrics.group_runs([load_run(two_domains)]))
    records = table.records()
    assert [(r["domain"], r["generation"]) for r in records] == [
        ("blocksworld", 0), ("blocksworld", 1), ("gripper", 0), ("gripper", 1)
    ]  # fmt: skip
    assert any(r["pool mean"] > 0 for r in records)
    for r in records:
        for split in ("pool", "heldout"):
            where = "t.domain = ? AND t.split = ? AND tr.generation = ?"
            args = (r["domain"], split, r["generation"])
            per_run = [
                {
                    row["task_id"]
                    for row in sql(
                        two_domains,
                        "SELECT DISTINCT tr.task_id FROM traces tr JOIN tasks t USING (task_id) "
                        f"WHERE {where} AND tr.run = ? AND tr.valid = 1",
                        (*args, run),
                    )
                }
                for run in (0, 1)
            ]
            counts = [len(s) for s in per_run]
            assert r[f"{split} mean"] == round(fmean(counts), 2)
            assert (r[f"{split} min"], r[f"{split} max"]) == (min(counts), max(counts))
            assert r[f"{split} unanimous@k"] == len(per_run[0] & per_run[1])
            n = sql(two_domains, "SELECT COUNT(*) AS n FROM tasks t WHERE t.domain = ? "
                    "AND t.split = ?", (r["domain"], split))[0]["n"]  # fmt: skip
            assert r[f"{split} tasks"] == n > 0
        valid = sql(
            two_domains,
            "SELECT tr.run, tr.task_id, tr.plan_length, tr.reasoning_tokens FROM traces tr "
            "JOIN tasks t USING (task_id) WHERE t.domain = ? AND t.split = 'pool' "
            "AND tr.generation = ? AND tr.valid = 1",
            (r["domain"], r["generation"]),
        )
        shortest: dict[tuple, int] = {}
        for row in valid:
            key = (row["run"], row["task_id"])
            shortest[key] = min(shortest.get(key, row["plan_length"]), row["plan_length"])
        expected_length = round(fmean(shortest.values()), 2) if shortest else None
        expected_tokens = round(fmean(v["reasoning_tokens"] for v in valid), 2) if valid else None
        assert (r["plan length"], r["reasoning tokens"]) == (expected_length, expected_tokens)


def test_format_paper_table_prints_one_block_per_domain(two_domains):
    table = metrics.paper_table(metrics.group_runs([load_run(two_domains)]))
    text = metrics.format_paper_table(table)
    blocks = [line for line in text.splitlines() if "pool tasks," in line]
    assert [b.split()[0] for b in blocks] == ["blocksworld", "gripper"]
    assert "2 runs" in blocks[0]
    header = next(line for line in text.splitlines() if line.lstrip().startswith("gen"))
    assert "unan@2" in header and "held-out mean (min-max)" in header
    first = next(r for r in table.records() if r["domain"] == "blocksworld")
    row0 = text.splitlines()[text.splitlines().index(header) + 1].split()
    assert row0[:2] == ["0", f"{first['pool mean']:g}"]
    assert row0[2] == f"({first['pool min']}-{first['pool max']})"
