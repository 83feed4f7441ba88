"""The `iterdeploy` entry point: one exit-code rule for every command, and a fast `validate`.

The commands are typer commands in `iterdeploy.commands`. Only this module catches
`IterdeployError`: it prints `Error: ...` on stderr and exits with the error's code:

    0  the command did its job (every plan valid, the gate passed, ...)
    1  it ran and a check failed: an invalid plan, a failing gate or theory check, a backend
       or training failure
    2  it could not start with what it was given: usage, config, unparsable or missing files
       and run folders, unknown ids, a missing extra (the message names the install command)

Importing typer (and pydantic, which it loads) takes about 120 ms, far more than validating a
plan, and harnesses call a validator once per plan. So a `validate` call whose arguments are
plain (paths, --json, -v, --verbose, --batch FILE) runs here without typer; anything else
(--help, an unknown option, extra arguments) goes to the typer command, which defines the
interface. tests/test_cli.py checks that both paths print the same and exit alike.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Before torch is imported: busy-waiting OpenMP threads make 2-core CPU runs 5-50x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from iterdeploy.errors import IterdeployError  # noqa: E402

# The plain flags of `iterdeploy validate` -> report_files' keyword (mirrors commands.validate).
VALIDATE_FLAGS = {"--json": "as_json", "-v": "verbose", "--verbose": "verbose"}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on `argv` (default: sys.argv[1:]) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        plain = plain_validate_args(args)
        if plain is not None:
            from iterdeploy.pddl.batch import report_files

            return report_files(**plain, out=_echo)
        from iterdeploy.commands import run_app

        return run_app(args)
    except IterdeployError as exc:
        _echo(f"Error: {exc}", err=True)
        return exc.exit_code


def plain_validate_args(args: list[str]) -> dict[str, object] | None:
    """Return report_files' arguments for a plain `validate` call, else None (typer parses)."""
    if not args or args[0] != "validate":
        return None
    paths: list[Path] = []
    options: dict[str, object] = {"batch": None, "as_json": False, "verbose": False}
    rest = iter(args[1:])
    for arg in rest:
        if arg in VALIDATE_FLAGS:
            options[VALIDATE_FLAGS[arg]] = True
        elif arg == "--batch":
            value = next(rest, None)
            if value is None or value.startswith("-"):
                return None
            options["batch"] = Path(value)
        elif arg.startswith("-") or len(paths) == 3:
            return None
        else:
            paths.append(Path(arg))
    paths += [None] * (3 - len(paths))  # type: ignore[list-item]  # missing ones: report_files says
    return dict(zip(("domain", "problem", "plan"), paths, strict=True)) | options


def _echo(text: str, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()
