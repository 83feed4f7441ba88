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


def test_a_validate_call_imports_neither_typer_nor_pydantic_nor_torch():
    code = (
        "import sys\n"
        "from iterdeploy.cli import main\n"
        f"code = main(['validate', {TASK[0]!r}, {TASK[1]!r}, {PLAN!r}])\n"
        "heavy = sorted({'typer', 'click', 'pydantic', 'torch', 'typing'} & set(sys.modules))\n"
        "print(code, heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "0 []", done.stderr
