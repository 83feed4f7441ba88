from __future__ import annotations

from iterdeploy.cli import main


def test_run_with_an_unknown_key_exits_2_naming_the_key(capsys, tmp_path):
    code = main(
        [
            "run",
            "--preset",
            "quickstart",
            "--set",
            "loop.generatons=2",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "loop.generatons = 2 is not allowed" in err and "did you mean" in err
    assert not (tmp_path / "run").exists()


def test_run_with_an_unknown_preset_exits_2(capsys):
    assert main(["run", "--preset", "nope"]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err


def test_resume_of_a_folder_without_a_run_exits_2(capsys, tmp_path):
    assert main(["resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["run", "--resume", str(tmp_path)]) == 2
