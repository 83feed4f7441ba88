"""`iterdeploy validate`: single plans, -v traces, JSONL batches, and exit codes 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iterdeploy.cli import main

DATA = Path(__file__).parent / "data"
TASK = [str(DATA / "typed-domain.pddl"), str(DATA / "typed-problem.pddl")]


def test_validate_valid_plan_exits_0_with_trace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *TASK, str(DATA / "typed-plan.plan"), "-v"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Checking step 0: (load c1 t1 a)"
    assert "    Deleting (at c1 a)" in out and "    Adding (at c1 depot)" in out
    assert out[-1] == "Plan valid: 3 steps, cost 6"


def test_validate_invalid_plan_exits_1_with_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "bad.plan"
    plan.write_text("(drive t1 a depot)\n(unload-at-depot c1 t1)\n")
    assert main(["validate", *TASK, str(plan), "--json"]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record["valid"] is False
    assert record["reason"] == "unsatisfied-precondition"
    assert (record["step"], record["unsatisfied"]) == (1, ["(in c1 t1)"])


@pytest.mark.parametrize("broken", ["missing-file", "parse-error", "no-arguments"])
def test_validate_unusable_input_exits_2(
    broken: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    domain = tmp_path / "domain.pddl"
    domain.write_text("(define (domain d) (:predicates (p))")  # one ')' short
    args = {
        "missing-file": ["validate", *TASK, str(tmp_path / "none.plan")],
        "parse-error": ["validate", str(domain), TASK[1], str(DATA / "typed-plan.plan")],
        "no-arguments": ["validate", TASK[0]],
    }[broken]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ")
    if broken == "parse-error":
        assert "domain.pddl:1:" in err and "never closed" in err


def test_validate_batch_keeps_order_and_survives_bad_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ok.plan").write_text((DATA / "typed-plan.plan").read_text())
    (tmp_path / "short.plan").write_text("(load c1 t1 a)\n")
    entry = {"domain": TASK[0], "problem": TASK[1]}
    lines = [
        json.dumps({**entry, "plan": "ok.plan"}),  # relative to the batch file
        "{not json",
        json.dumps({**entry, "plan": "missing.plan"}),
        "",
        json.dumps({**entry, "plan": "short.plan"}),
    ]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(lines) + "\n")
    assert main(["validate", "--batch", str(batch), "--json"]) == 1
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["reason"] for r in records] == [
        "ok",
        "input-error",
        "input-error",
        "goal-not-reached",
    ]
    assert [r["valid"] for r in records] == [True, False, False, False]
    assert "missing.plan" in records[2]["error"]


def test_validate_batch_that_is_not_utf8_is_an_input_error_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(b'{"domain": "d\xe9.pddl", "problem": "p.pddl", "plan": "x.plan"}\n')
    assert main(["validate", "--batch", str(batch)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("Error: ") and "is not UTF-8" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_validate_batch_and_plan_may_start_with_a_byte_order_mark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "bom.plan"
    plan.write_text("\ufeff" + (DATA / "typed-plan.plan").read_text(), encoding="utf-8")
    batch = tmp_path / "batch.jsonl"
    line = json.dumps({"domain": TASK[0], "problem": TASK[1], "plan": "bom.plan"})
    batch.write_text("\ufeff" + line + "\n", encoding="utf-8")
    assert main(["validate", "--batch", str(batch), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reason"] == "ok"
    assert main(["validate", *TASK, str(plan)]) == 0
