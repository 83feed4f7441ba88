"""Per-generation summaries count distinct problems as well as tasks.

Pools hold distinct problems, so a run's task and problem counts agree; copies (from pools of
an older format) are counted once, shown by `test_a_problem_is_solved_when_any_copy_is`. The
run is the base generation only, on the fake backend: no training, a few seconds.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict

import pytest
from loop_helpers import write_preset

from iterdeploy.cli import main
from iterdeploy.config import load_config
from iterdeploy.domains.pool import content_key
from iterdeploy.loop.orchestrator import read_summaries, start_run, summary_line
from iterdeploy.loop.stages import format_table, summarize_generation
from iterdeploy.records import StoredTrace


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, cache, test_model):
    root = tmp_path_factory.mktemp("base-run")
    preset = write_preset(
        root / "p.toml",
        f"""
[loop]
generations = 0
chunk_tasks = 64
validation_workers = 1
heldout_samples = 2

[pool]
size = 200
heldout = 0.25
levels = [0, 1]

[model]
base = "{test_model}"
backend = "fake"
backend_options = {{ valid_rate = 0.2, corrupt_rate = 0.3, truncate_rate = 0.1 }}

[generation]
n = 2
max_tokens = 32
""",
    )
    return start_run(load_config(preset), root / "run")


def _store_counts(folder):
    """Return {split: (tasks, problems, solved tasks, solved problems)} of generation 0."""
    con = sqlite3.connect(folder / "store.sqlite")
    try:
        tasks = con.execute("SELECT task_id, split, problem FROM tasks").fetchall()
        valid = {r[0] for r in con.execute("SELECT task_id FROM traces WHERE valid = 1")}
    finally:
        con.close()
    sets = defaultdict(lambda: (set(), set(), set(), set()))
    for task_id, split, problem in tasks:
        all_tasks, problems, solved, solved_problems = sets[split]
        all_tasks.add(task_id)
        problems.add(content_key(problem))
        if task_id in valid:
            solved.add(task_id)
            solved_problems.add(content_key(problem))
    return {split: tuple(map(len, s)) for split, s in sets.items()}


def test_problem_counts_match_the_store(base_run):
    (s,) = read_summaries(base_run)
    counts = _store_counts(base_run)
    assert (s.pool_tasks, s.pool_problems, s.pool_solved, s.pool_problems_solved) == counts["pool"]
    assert (
        s.heldout_tasks,
        s.heldout_problems,
        s.heldout_solved,
        s.heldout_problems_solved,
    ) == counts["heldout"]
    # Every task is its own problem.
    assert (s.pool_problems, s.heldout_problems) == (s.pool_tasks, s.heldout_tasks) == (150, 50)
    assert s.pool_problems_solved == s.pool_solved > 0 and not s.has_duplicates


def test_run_prints_problem_counts(base_run, capsys):
    (s,) = read_summaries(base_run)
    assert main(["resume", str(base_run)]) == 0  # a finished run: prints its table again
    out = capsys.readouterr().out.splitlines()
    assert out[0].split("  ")[:3] == ["gen", "pool solved (problems)", "held-out solved (problems)"]
    row = out[1].split()
    assert row[:5] == [
        "0",
        f"{s.pool_solved}/{s.pool_tasks}",
        f"({s.pool_problems_solved}/{s.pool_problems})",
        f"{s.heldout_solved}/{s.heldout_tasks}",
        f"({s.heldout_problems_solved}/{s.heldout_problems})",
    ]
    assert not any(line.startswith("note:") for line in out)  # no copies to explain
    assert all(len(line) <= 100 for line in out[:2])
    assert (
        f"held-out {s.heldout_solved}/{s.heldout_tasks} "
        f"(problems {s.heldout_problems_solved}/{s.heldout_problems})"
    ) in summary_line(s)


def test_a_summary_json_without_problem_counts_still_loads(base_run, tmp_path):
    data = json.loads((base_run / "summary.json").read_text())
    for gen in data["runs"][0]["generations"]:
        for key in ("pool_problems", "pool_problems_solved", "heldout_problems"):
            del gen[key]
        del gen["heldout_problems_solved"]
    (tmp_path / "summary.json").write_text(json.dumps(data))
    (s,) = read_summaries(tmp_path)
    assert s.pool_problems is None and s.heldout_problems_solved is None
    assert not s.has_duplicates
    lines = format_table([s]).splitlines()
    assert len(lines) == 2 and "(" not in lines[1]  # task counts only, and no note
    assert lines[1].split()[1:3] == [
        f"{s.pool_solved}/{s.pool_tasks}",
        f"{s.heldout_solved}/{s.heldout_tasks}",
    ]


def test_a_problem_is_solved_when_any_copy_is():
    tasks = {"a1": "pool", "a2": "pool", "b": "pool", "h1": "heldout", "h2": "heldout"}
    problems = {"a1": "A", "a2": "A", "b": "B", "h1": "H", "h2": "H"}
    rows = [
        StoredTrace(0, 0, "a1", 0, "pool", False, reasoning_tokens=5),
        StoredTrace(0, 0, "a2", 0, "pool", True, ("(a)", "(b)", "(c)"), reasoning_tokens=5),
        StoredTrace(0, 0, "b", 0, "pool", False, reasoning_tokens=5),
        StoredTrace(0, 0, "h1", 0, "heldout", True, ("(a)", "(b)"), reasoning_tokens=5),
        StoredTrace(0, 0, "h2", 0, "heldout", True, ("(a)", "(b)"), reasoning_tokens=5),
    ]
    s = summarize_generation(0, 0, rows, tasks, set(), 0, 0, problems)
    assert (s.pool_tasks, s.pool_solved, s.pool_problems, s.pool_problems_solved) == (3, 1, 2, 1)
    assert (s.heldout_tasks, s.heldout_solved) == (2, 2)
    assert (s.heldout_problems, s.heldout_problems_solved) == (1, 1)
    table = format_table([s, s])  # two runs of one generation: means over runs
    assert table.splitlines()[1].split()[1:5] == ["1/3", "(1/2)", "2/2", "(1/1)"]
    assert table.splitlines()[2] == (
        "note: 3 pool tasks hold 2 distinct problems, 2 held-out tasks 1; (x/y) counts problems"
    )
