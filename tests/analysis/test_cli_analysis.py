from __future__ import annotations

import json

from iterdeploy.analysis.data import open_store
from iterdeploy.cli import main
from iterdeploy.loop.gate import GateConfig, gate_chain


def test_cli_report_writes_the_report(run_folders, tmp_path, capsys):
    assert main(["report", str(run_folders["paper"]), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "report.html" in out and "Base model vs final generation (heldout)" in out
    assert (tmp_path / "report.html").is_file()


def test_cli_audit_prints_the_implicit_reward(run_folders, capsys):
    assert main(["audit", str(run_folders["paper"])]) == 0
    out = capsys.readouterr().out
    assert "Implicit reward (paper)" in out and "Validator blind spot" in out


def test_cli_lineage_prints_json(run_folders, capsys, sql):
    e = sql(run_folders["paper"], "SELECT * FROM dataset_examples LIMIT 1")[0]
    trace_id = f"{e['run']}/{e['source_generation']}/{e['task_id']}/{e['sample']}"
    assert main(["lineage", str(run_folders["paper"]), trace_id, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["trace_id"] == trace_id and data["entered"]


def test_cli_export_promote_rollback(paper_copy, tmp_path, capsys, sql):
    assert main(["export", str(paper_copy), "1", "--out", str(tmp_path), "--run", "1"]) == 0
    assert (tmp_path / "source" / "r1-g1.jsonl").is_file() and (tmp_path / "README.md").is_file()
    assert (
        main(
            [
                "promote",
                str(paper_copy),
                "0",
                "--split",
                "pool",
                "--max-drop",
                "1",
                "--max-group-drop",
                "1",
                "--reason",
                "cli test",
            ]
        )
        == 0
    )
    assert main(["rollback", str(paper_copy)]) == 0
    out = capsys.readouterr().out
    assert "deployed generation 0" in out and "run 0: deployed generation 2" in out
    rows = sql(paper_copy, "SELECT action, generation FROM deployments WHERE run = 0 ORDER BY id")
    assert [(r["action"], r["generation"]) for r in rows][-2:] == [("promote", 0), ("rollback", 2)]


def test_cli_bad_input_exits_2_with_a_fix(run_folders, tmp_path, capsys):
    assert main(["audit", str(tmp_path)]) == 2  # StoreError: not a run folder
    assert "not a run folder" in capsys.readouterr().err
    assert main(["lineage", str(run_folders["paper"]), "garbage"]) == 2
    assert "RUN/GENERATION/TASK_ID/SAMPLE" in capsys.readouterr().err
    assert main(["promote", str(run_folders["paper"]), "9"]) == 2
    assert "not evaluated" in capsys.readouterr().err


def test_cli_traces_lists_the_ids_that_lineage_takes(run_folders, capsys, sql):
    folder = str(run_folders["paper"])
    assert main(["traces", folder, "--gen", "1", "--valid", "--split", "pool"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "trace_id\tsplit\tverdict\tplan_length\tcurated_in"
    rows = [line.split("\t") for line in lines[1:]]
    expected = sql(
        run_folders["paper"],
        "SELECT COUNT(*) AS n FROM traces tr JOIN tasks t USING (task_id) "
        "WHERE tr.generation = 1 AND tr.valid = 1 AND t.split = 'pool'",
    )[0]["n"]
    assert len(rows) == expected > 0
    assert {(r[0].split("/")[1], r[1], r[2]) for r in rows} == {("1", "pool", "valid")}
    assert main(["lineage", folder, rows[0][0]]) == 0
    assert f"trace     {rows[0][0]}" in capsys.readouterr().out


def test_cli_traces_filters_by_curation_and_task(run_folders, capsys, sql):
    folder = str(run_folders["paper"])
    assert main(["traces", folder, "--run", "0", "--curated"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()[1:]]
    entered = sql(
        run_folders["paper"],
        "SELECT COUNT(DISTINCT task_id || '/' || source_generation || '/' || sample) AS n "
        "FROM dataset_examples WHERE run = 0",
    )[0]["n"]
    assert len(rows) == entered > 0 and all(r[4].startswith("g") for r in rows)
    task = rows[0][0].split("/")[2]
    assert main(["traces", folder, "--task", task, "--not-curated", "--invalid"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()[1:]]
    assert all(r[0].split("/")[2] == task and r[2] != "valid" and r[4] == "-" for r in rows)
    assert main(["traces", folder, "--split", "train"]) == 2
    assert "use 'pool' or 'heldout'" in capsys.readouterr().err


def test_cli_lineage_of_an_unknown_trace_points_to_traces(run_folders, capsys):
    folder = str(run_folders["paper"])
    assert main(["lineage", folder, "0/0/no-such-task/0"]) == 2
    assert f"`iterdeploy traces {folder}` lists them" in capsys.readouterr().err


def test_cli_report_into_a_file_exits_2(run_folders, capsys):
    store = str(run_folders["paper"] / "store.sqlite")
    assert main(["report", str(run_folders["paper"]), "--out", store]) == 2
    assert "is a file; pass a folder" in capsys.readouterr().err


def test_cli_promote_of_the_deployed_generation_writes_nothing(paper_copy, capsys, sql):
    before = sql(paper_copy, "SELECT COUNT(*) AS n FROM deployments")[0]["n"]
    assert main(["promote", str(paper_copy), "2"]) == 0
    assert "generation 2 is already deployed; nothing written" in capsys.readouterr().out
    assert sql(paper_copy, "SELECT COUNT(*) AS n FROM deployments")[0]["n"] == before


def test_cli_rollback_refuses_a_gate_failing_target_and_a_double_target(paper_copy, capsys):
    folder = str(paper_copy)
    with open_store(paper_copy) as store:
        chain = gate_chain(store, 0, GateConfig(split="pool"))
    failing = next(d.candidate for d in chain if not d.passed)
    assert main(["rollback", folder, "--to", str(failing), "--split", "pool"]) == 1
    assert f"generation {failing} fails the gate" in capsys.readouterr().err
    assert main(["rollback", folder, "--to", "0", "--gated"]) == 2
    assert "--to and --gated exclude each other" in capsys.readouterr().err
    args = ["rollback", folder, "--to", str(failing), "--split", "pool", "--force"]
    assert main(args) == 0
    assert f"deployed generation {failing}" in capsys.readouterr().out


def test_cli_theory_with_too_few_samples_exits_2(capsys):
    assert main(["theory", "--samples", "0", "--no-lm"]) == 2
    assert "--samples" in capsys.readouterr().err
