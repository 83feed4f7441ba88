from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from iterdeploy import __version__, commands
from iterdeploy.cli import VALIDATE_FLAGS, main, plain_validate_args
from iterdeploy.commands import run_app
from iterdeploy.errors import IterdeployError
from iterdeploy.loop.store import Store
from iterdeploy.registry import Registry


def test_version_prints_package_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == __version__


def test_unknown_command_exits_2(capsys):
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_registry_suggests_close_names():
    reg = Registry("thing", {"keep-shortest": 1, "keep-k": 2})
    try:
        reg.get("keep-shortes")
    except Exception as exc:
        assert "Did you mean 'keep-shortest'" in str(exc)
        assert "Available: keep-k, keep-shortest" in str(exc)
    else:
        raise AssertionError("expected ConfigError")


def test_registry_missing_extra_names_install_command():
    reg = Registry("backend", {"x": "vllm_not_installed_here.fake:Thing"})
    try:
        reg.get("x")
    except Exception as exc:
        assert "cannot import" in str(exc)
    else:
        raise AssertionError("expected ConfigError")


DATA = Path(__file__).parent / "pddl" / "data"
TASK = [str(DATA / "typed-domain.pddl"), str(DATA / "typed-problem.pddl")]
PLAN = str(DATA / "typed-plan.plan")


@pytest.mark.parametrize(
    "tail",
    [
        [PLAN],
        [PLAN, "--json"],
        [PLAN, "-v"],
        ["--verbose", PLAN, "--json"],
        ["missing.plan"],
        [],
    ],
)
def test_plain_validate_runs_without_typer_and_matches_the_typer_command(tail, capsys):
    args = ["validate", *TASK, *tail]
    assert plain_validate_args(args) is not None
    code = main(args)
    plain = capsys.readouterr()
    try:
        typer_code = run_app(args)
    except IterdeployError as exc:  # main prints these; run_app leaves them to main
        print(f"Error: {exc}", file=sys.stderr)
        typer_code = exc.exit_code
    assert (code, plain.out, plain.err) == (typer_code, *capsys.readouterr())


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--help"],
        ["validate", *TASK, PLAN, "extra"],
        ["validate", *TASK, PLAN, "--jsn"],
        ["validate", "--batch"],
        ["version"],
    ],
)
def test_other_command_lines_go_to_typer(args):
    assert plain_validate_args(args) is None


def test_plain_validate_flags_are_options_of_the_typer_command():
    command = typer.main.get_command(commands.app).commands["validate"]
    names = {name for param in command.params for name in param.opts}
    assert set(VALIDATE_FLAGS) | {"--batch"} <= names


def test_a_validate_call_imports_only_what_it_needs():
    code = (
        "import sys\n"
        "from iterdeploy.cli import main\n"
        f"code = main(['validate', {TASK[0]!r}, {TASK[1]!r}, {PLAN!r}])\n"
        "heavy = {'typer', 'click', 'pydantic', 'torch', 'typing', 'logging', 'difflib'}\n"
        "heavy = sorted(heavy & set(sys.modules))\n"
        "print(code, heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "0 []", done.stderr


def test_run_with_a_misspelt_policy_exits_2_before_the_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--set", "curation.policy=papr", "--out", str(out)]) == 2
    assert "unknown curation policy 'papr'. Did you mean 'paper'?" in capsys.readouterr().err
    assert not out.exists()
    args = ["run", "--set", "curation.policy=keep-k", "--set", "curation.params={'k': 0}"]
    assert main([*args, "--out", str(out)]) == 2
    assert "keep-k needs an integer k >= 1" in capsys.readouterr().err
    assert main(["run", "--set", "model.template=bogus", "--out", str(out)]) == 2
    assert "model.template = 'bogus'" in capsys.readouterr().err
    assert not out.exists()


def test_a_run_that_fails_before_its_first_stage_leaves_no_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ITERDEPLOY_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")  # a model folder that does not load
    out = tmp_path / "run"
    args = ["run", "--set", "pool.size=4", "--set", f"model.base={model}", "--out", str(out)]
    for _ in range(2):  # the same command again: the same error, not "already holds a run"
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "cannot load model" in err and f"removed {out}" in err
        assert not out.exists()
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(args) == 2
    assert [p.name for p in out.iterdir()] == ["notes.txt"]  # only the run's own files went
    Store(out / Store.FILENAME, create=True).close()  # a run that is there already stays
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (out / Store.FILENAME).is_file()


def test_resume_takes_no_new_settings(tmp_path, capsys):
    assert main(["run", "--resume", str(tmp_path), "--set", "loop.runs=2"]) == 2
    assert "--resume continues a run with its stored config" in capsys.readouterr().err


def test_tasks_build_warns_about_levels_without_held_out_tasks(tmp_path, capsys):
    args = ["tasks", "build", "--domain", "blocksworld", "--size", "4", "--max-level", "1"]
    assert main([*args, "--out", str(tmp_path / "pool"), "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "Warning: level 0 has 2 tasks and none held out (round(0.2 x 2) = 0)" in err
    assert "Warning: level 1 has 2 tasks" in err
    assert main(["tasks", "build", "--domain", "blocksworld", "--size", "0", "--out", "x"]) == 2
    assert "--size" in capsys.readouterr().err


def test_without_the_hf_extra_run_names_it_and_exits_2(tmp_path):
    """A plain `pip install -e .`: no torch, no transformers (blocked here) and no traceback."""
    code = (
        "import sys\n"
        "for m in ('torch', 'transformers', 'peft', 'trl', 'datasets'): sys.modules[m] = None\n"
        "from iterdeploy.cli import main\n"
        f"raise SystemExit(main(['run', '--preset', 'quickstart', '--out', {str(tmp_path)!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: this run needs: pip install 'iterdeploy[hf,train]'")
    assert "Traceback" not in done.stderr
    assert not any(tmp_path.iterdir())
