"""Validate plan files: one task from paths, or a JSONL batch of (domain, problem, plan) paths.

This is the library side of `iterdeploy validate`. A batch prepares each distinct
(domain, problem) pair once, and turns a bad line (missing file, parse error, bad JSON) into an
error record for that line instead of aborting the batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from iterdeploy.errors import ConfigError, IterdeployError
from iterdeploy.pddl.parser import load_domain, load_problem, read_file
from iterdeploy.pddl.validate import Checker, Verdict, prepare

INPUT_ERROR = "input-error"  # the `reason` of a batch record whose input could not be used
_CHECKERS_KEPT = 64  # prepared tasks a batch keeps; batches are usually grouped by task


def report_files(
    domain: Path | None,
    problem: Path | None,
    plan: Path | None,
    batch: Path | None,
    *,
    as_json: bool,
    verbose: bool,
    out: Callable[[str], None],
) -> int:
    """Validate one plan or a batch, write the results through `out`, return the exit code.

    The code is 0 when every plan is valid, 1 otherwise; unusable single input raises
    (`ConfigError` or `PDDLParseError`, exit code 2 in the CLI).
    """
    if batch is not None:
        if domain or problem or plan:
            raise ConfigError("give either DOMAIN PROBLEM PLAN or --batch FILE, not both")
        all_valid = True
        for record in validate_batch(batch):
            all_valid = all_valid and bool(record["valid"])
            out(json.dumps(record) if as_json else _summary_line(record))
        return 0 if all_valid else 1
    if domain is None or problem is None or plan is None:
        raise ConfigError(
            "missing arguments: run `iterdeploy validate DOMAIN PROBLEM PLAN` "
            "or `iterdeploy validate --batch FILE.jsonl`"
        )
    verdict = validate_files(domain, problem, plan, log=out if verbose else None)
    out(json.dumps(verdict.to_dict()) if as_json else _summary_line(verdict.to_dict()))
    return 0 if verdict.valid else 1


def _summary_line(record: dict[str, object]) -> str:
    """Return one human-readable line for a verdict record."""
    if record["reason"] == INPUT_ERROR:
        return f"Error (line {record['line']}): {record['error']}"
    if record["valid"]:
        return f"Plan valid: {record['length']} steps, cost {record['cost']:g}"
    return f"Plan invalid ({record['reason']}): {record['detail']}"


def validate_files(
    domain: str | Path,
    problem: str | Path,
    plan: str | Path,
    log: Callable[[str], None] | None = None,
) -> Verdict:
    """Return the verdict of the plan file at `plan`; raise on unreadable or malformed input."""
    checker = prepare(load_domain(domain), load_problem(problem))
    return checker.validate(read_file(plan, "plan"), log=log)


def validate_batch(path: str | Path) -> Iterator[dict[str, object]]:
    """Yield one record per line of the JSONL file at `path`, in order.

    Each line is `{"domain": path, "problem": path, "plan": path}`; relative paths resolve
    against the batch file's folder. A record is `Verdict.to_dict()` plus the input paths, or
    `{"valid": false, "reason": "input-error", "error": message}` for an unusable line.
    """
    batch = Path(path)
    try:
        lines = batch.read_text(encoding="utf-8-sig").splitlines()  # -sig: a BOM is dropped
    except OSError as exc:
        raise ConfigError(f"cannot read batch file {str(path)!r}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"batch file {str(path)!r} is not UTF-8 text (byte {exc.start}: "
            f"{exc.object[exc.start : exc.start + 1]!r}); write it as UTF-8 JSON lines"
        ) from exc
    checkers: dict[tuple[Path, Path], Checker] = {}
    counts = {"valid": 0, "invalid": 0, INPUT_ERROR: 0}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = _validate_line(batch.parent, line, checkers)
        except IterdeployError as exc:
            record = {"valid": False, "reason": INPUT_ERROR, "error": str(exc), "line": number}
        counts[
            INPUT_ERROR
            if record["reason"] == INPUT_ERROR
            else "valid"
            if record["valid"]
            else "invalid"
        ] += 1
        yield record
    import logging  # here: `iterdeploy validate` of one plan starts faster without it

    logging.getLogger(__name__).info("validated batch %s: %s", batch, counts)


def _validate_line(
    folder: Path, line: str, checkers: dict[tuple[Path, Path], Checker]
) -> dict[str, object]:
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not a JSON object: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(entry, dict) or not all(
        isinstance(entry.get(key), str) for key in ("domain", "problem", "plan")
    ):
        raise ConfigError(
            f"bad batch line {line[:80]!r}; write "
            '{"domain": "d.pddl", "problem": "p.pddl", "plan": "p.plan"}'
        )
    paths = [folder / entry[key] for key in ("domain", "problem", "plan")]
    key = (paths[0].resolve(), paths[1].resolve())
    if key not in checkers:
        if len(checkers) >= _CHECKERS_KEPT:
            checkers.clear()
        checkers[key] = prepare(load_domain(paths[0]), load_problem(paths[1]))
    record = checkers[key].validate(read_file(paths[2], "plan")).to_dict()
    record.update({k: entry[k] for k in ("domain", "problem", "plan")})
    return record
