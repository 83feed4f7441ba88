from __future__ import annotations

import json

from iterdeploy.cli import main


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
    assert main(["audit", str(tmp_path)]) == 1  # StoreError: not a run folder
    assert "not a run folder" in capsys.readouterr().err
    assert main(["lineage", str(run_folders["paper"]), "garbage"]) == 2
    assert "RUN/GENERATION/TASK_ID/SAMPLE" in capsys.readouterr().err
    assert main(["promote", str(run_folders["paper"]), "9"]) == 2
    assert "not evaluated" in capsys.readouterr().err
