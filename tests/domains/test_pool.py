"""Pools: determinism, no-op rebuilds, the held-out split, reference plans, bad input."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from iterdeploy.cli import main
from iterdeploy.domains import DOMAINS
from iterdeploy.domains.planner import PlannerConfig
from iterdeploy.domains.pool import build_pool, content_key, load_pool
from iterdeploy.domains.summary import describe_pool
from iterdeploy.errors import ConfigError, StoreError
from iterdeploy.pddl.parser import parse_domain, parse_problem
from iterdeploy.pddl.validate import prepare

SMALL = {"levels": [0, 1, 2], "heldout": 0.25}


@pytest.fixture(scope="module")
def small_pool(tmp_path_factory):
    """A 24-task Blocksworld pool over the three easiest levels, built with 2 processes."""
    return build_pool("blocksworld", 24, 7, tmp_path_factory.mktemp("pool") / "bw", jobs=2, **SMALL)


def folder_bytes(folder):
    """Return {relative path: bytes} of the pool content (build.json holds timings)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "build.json")
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


def test_two_builds_with_the_same_seed_are_byte_identical(small_pool, tmp_path):
    again = build_pool("blocksworld", 24, 7, tmp_path / "again", jobs=1, **SMALL)
    assert folder_bytes(again) == folder_bytes(small_pool)
    other = build_pool("blocksworld", 24, 8, tmp_path / "other", jobs=1, **SMALL)
    assert folder_bytes(other)["manifest.jsonl"] != folder_bytes(small_pool)["manifest.jsonl"]


def test_rebuild_with_same_settings_is_a_no_op(small_pool):
    marker = small_pool / "pool.json"
    before = (marker.stat().st_mtime_ns, folder_bytes(small_pool))
    assert build_pool("blocksworld", 24, 7, small_pool, jobs=2, **SMALL) == small_pool
    assert (marker.stat().st_mtime_ns, folder_bytes(small_pool)) == before


def test_tasks_spread_evenly_over_levels_with_a_stratified_heldout_split(small_pool):
    tasks = load_pool(small_pool)
    assert [t.id for t in tasks] == [f"blocksworld-{i:04d}" for i in range(24)]
    assert Counter(t.difficulty for t in tasks) == {0: 8, 1: 8, 2: 8}
    assert Counter((t.difficulty, t.split) for t in tasks) == {
        (level, split): n for level in (0, 1, 2) for split, n in (("pool", 6), ("heldout", 2))
    }
    ladder = DOMAINS.get("blocksworld").ladder
    for task in tasks:
        low, high = ladder[task.difficulty]["blocks"]
        assert low <= task.params["blocks"] <= high
    assert len({t.digest for t in tasks}) == 24


def test_reference_plans_are_valid_and_recorded(small_pool):
    domain = parse_domain((small_pool / "domain.pddl").read_text())
    for task in load_pool(small_pool):
        verdict = prepare(domain, parse_problem(task.problem)).validate(list(task.reference_plan))
        assert verdict.valid, (task.id, verdict.detail)
        assert task.reference_length == len(task.reference_plan) >= 1
        assert all(step == step.lower() and step.startswith("(") for step in task.reference_plan)
        assert "fast-downward lama-first" in task.planner
        assert task.optimal  # these tiny tasks are solved by breadth-first search


def test_fast_downward_plans_large_tasks_and_sokoban_goes_optimal_first(tmp_path):
    planner = PlannerConfig(bfs_states=0, time_limit=20, optimal_time_limit=5)
    out = build_pool("sokoban", 2, 1, tmp_path / "sok", levels=[3], heldout=0.0, planner=planner)
    tasks = load_pool(out)
    assert [t.split for t in tasks] == ["pool", "pool"]
    assert all(t.planner.startswith("astar(lmcut()) (") and t.optimal for t in tasks)
    domain = parse_domain(DOMAINS.get("sokoban").domain_pddl)
    for task in tasks:
        assert (
            prepare(domain, parse_problem(task.problem)).validate(list(task.reference_plan)).valid
        )


def test_modified_problem_file_is_detected(small_pool, tmp_path):
    copy = build_pool("blocksworld", 24, 7, tmp_path / "copy", jobs=1, **SMALL)
    problem = copy / "problems" / "blocksworld-0003.pddl"
    problem.write_text(problem.read_text().replace("(arm-empty)", ""))
    with pytest.raises(StoreError, match="blocksworld-0003.*rebuild"):
        load_pool(copy)
    problem.unlink()
    with pytest.raises(StoreError, match="task blocksworld-0003: cannot read"):
        load_pool(copy)
    (copy / "pool.json").write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable"):
        build_pool("blocksworld", 24, 7, copy, jobs=1, **SMALL)


def test_folder_without_marker_is_not_a_pool(tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "manifest.jsonl").write_text("{}\n")
    with pytest.raises(StoreError, match="not a complete task pool"):
        load_pool(tmp_path / "half")
    with pytest.raises(ConfigError, match="not empty and holds no complete pool"):
        build_pool("blocksworld", 4, 0, tmp_path / "half", levels=[0])


def test_different_settings_need_force(small_pool, tmp_path):
    out = build_pool("blocksworld", 4, 0, tmp_path / "p", levels=[0], heldout=0.25)
    with pytest.raises(ConfigError, match="differs in seed"):
        build_pool("blocksworld", 4, 1, out, levels=[0], heldout=0.25)
    build_pool("blocksworld", 4, 1, out, levels=[0], heldout=0.25, force=True)
    assert json.loads((out / "pool.json").read_text())["build"]["seed"] == 1
    assert not list(tmp_path.glob(".p.partial-*"))  # the scratch folder is gone


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"domain": "blockworld"}, "Did you mean 'blocksworld'"),
        ({"size": 0}, "pool size 0"),
        ({"heldout": 1.0}, "heldout fraction"),
        ({"levels": [10]}, "no difficulty level 10"),
    ],
)
def test_bad_settings_raise_config_errors(tmp_path, kwargs, message):
    args = {"domain": "blocksworld", "size": 4, "seed": 0, "out": tmp_path / "p"} | kwargs
    with pytest.raises(ConfigError, match=message):
        build_pool(**args)
    assert not (tmp_path / "p").exists()


def test_unwritable_folder_raises_config_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot write the pool folder"):
        build_pool("blocksworld", 4, 0, blocker / "pool", levels=[0])
    with pytest.raises(ConfigError, match="exists and is a file"):
        build_pool("blocksworld", 4, 0, blocker, levels=[0])


def test_summary_counts_splits_levels_and_lengths(small_pool):
    text = describe_pool(load_pool(small_pool))
    assert text.startswith("24 tasks (blocksworld)")
    rows = {line.split()[0]: line.split()[1:3] for line in text.splitlines()[3:7]}
    assert rows == {"0": ["6", "2"], "1": ["6", "2"], "2": ["6", "2"], "all": ["18", "6"]}
    assert "plan length histogram" in text


def test_cli_builds_and_shows_a_pool(tmp_path, capsys):
    out = tmp_path / "cli-pool"
    argv = ["tasks", "build", "--domain", "ferry", "--size", "6", "--max-level", "1"]
    assert main([*argv, "--out", str(out), "--seed", "3", "--jobs", "1"]) == 0
    assert "6 tasks (ferry)" in capsys.readouterr().out
    assert main(["tasks", "show", str(out)]) == 0
    assert "plan length histogram" in capsys.readouterr().out
    assert main(["tasks", "build", "--domain", "ferri", "--out", str(tmp_path / "x")]) == 2
    assert "Did you mean 'ferry'" in capsys.readouterr().err
    assert main(["tasks", "show", str(tmp_path)]) == 2
    assert "not a complete task pool" in capsys.readouterr().err


def test_cli_lists_the_domains_with_their_parameters(capsys):
    assert main(["tasks", "domains"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 12
    assert any(
        line.split()[0] == "sokoban" and "grid, boxes, walls, pulls" in line for line in lines
    )


def test_every_task_is_a_distinct_problem_and_a_spent_level_passes_its_share_on(tmp_path, caplog):
    # Level 0 (2-3 blocks) holds 162 distinct problems, fewer than its share of 400 tasks.
    with caplog.at_level("WARNING", logger="iterdeploy.domains.pool"):
        out = build_pool("blocksworld", 400, 0, tmp_path / "p", levels=[0, 1], heldout=0.2)
    tasks = load_pool(out)
    keys = [content_key(task.problem) for task in tasks]
    assert len(set(keys)) == len(tasks) == 400
    by_level = Counter(task.difficulty for task in tasks)
    assert 140 <= by_level[0] <= 162 < 200 < by_level[1] and by_level[0] + by_level[1] == 400
    spent = [r.getMessage() for r in caplog.records if "ran out of new problems" in r.getMessage()]
    assert len(spent) == 1 and f"its other {200 - by_level[0]} tasks go to level 1" in spent[0]
    stats = json.loads((out / "build.json").read_text())
    assert stats["distinct_problems"] == 400 and stats["spent_levels"] == [0]
    assert stats["tasks_per_level"] == {"0": by_level[0], "1": by_level[1]}
    for level, n in by_level.items():
        assert sum(t.split == "heldout" for t in tasks if t.difficulty == level) == round(0.2 * n)
    text = describe_pool(tasks)
    assert text.startswith("400 tasks (blocksworld), 400 distinct problems: pool 320, held-out 80")
    assert "in both splits 0" in text


def test_a_ladder_too_small_for_the_size_fails_with_the_count_it_found(tmp_path):
    with pytest.raises(ConfigError, match=r"levels \[0\] hold only 1[0-9]{2} distinct problems"):
        build_pool("blocksworld", 200, 0, tmp_path / "p", levels=[0])
    assert not (tmp_path / "p").exists()


def test_runs_sharing_a_cache_build_one_pool_at_a_time(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    out = tmp_path / "shared"
    args = ("blocksworld", 40, 3, out)
    kwargs = {"levels": [0, 1], "force": True, "jobs": 1}
    with ProcessPoolExecutor(2) as pool:
        futures = [pool.submit(build_pool, *args, **kwargs) for _ in range(4)]
        assert [f.result() for f in futures] == [out] * 4
    assert len(load_pool(out)) == 40
    marker = (out / "pool.json").stat().st_mtime_ns
    build_pool(*args, **kwargs)  # force never rebuilds an identical pool
    assert (out / "pool.json").stat().st_mtime_ns == marker
