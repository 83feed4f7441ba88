"""Helpers for the loop tests: small run presets and a SIGKILL-at-a-stage subprocess driver."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def rows(folder: Path, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
    """Return the rows of `sql` on the store of the run folder `folder`."""
    con = sqlite3.connect(folder / "store.sqlite")
    con.row_factory = sqlite3.Row
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def write_preset(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def start_cli(args: list[str], log: Path) -> subprocess.Popen:
    """Start `python -m iterdeploy ARGS` in a subprocess, its output going to `log`."""
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "iterdeploy", *args], stdout=out, stderr=out, env=env, cwd=REPO
        )


def kill_when(proc: subprocess.Popen, db: Path, sql: str, timeout: float = 300) -> None:
    """SIGKILL `proc` as soon as `sql` (a count query on the store) returns non-zero."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before: {sql}")
        if db.exists() and _count(db, sql):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        time.sleep(0.01)
    proc.kill()
    raise AssertionError(f"timed out waiting for: {sql}")


def _count(db: Path, sql: str) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)
        try:
            return con.execute(sql).fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # schema not created yet, or busy
        return 0


TRAINING = """method = "full"
epochs = 1
learning_rate = 1e-3
batch_size = 8
validation_fraction = 0.0
dtype = "float32"
"""


def fake_preset(path, model, extra=""):
    return write_preset(
        path,
        f"""
[loop]
generations = 2
chunk_tasks = 8
validation_workers = 1
heldout_samples = 2

[pool]
size = 24
heldout = 0.25
levels = [0, 1, 2]

[model]
base = "{model}"
backend = "fake"
backend_options = {{ valid_rate = 0.4, corrupt_rate = 0.3, truncate_rate = 0.1 }}

[generation]
n = 3
max_tokens = 32

[training]
{TRAINING}
{extra}""",
    )


def real_preset(path: Path, model: Path, extra: str = "") -> Path:
    """A preset for the real transformers backend and real training on a tiny pool."""
    return write_preset(
        path,
        f"""
[loop]
generations = 2
chunk_tasks = 8
validation_workers = 1
heldout_samples = 2

[pool]
size = 16
heldout = 0.25
levels = [0]

[model]
base = "{model}"
backend = "transformers"
backend_options = {{ dtype = "float32", batch_size = 32 }}

[generation]
n = 4
temperature = 1.0
max_tokens = 40

[training]
{TRAINING}
{extra}""",
    )


def warm_up(base: Path, tasks, out: Path) -> Path:
    """Return a full checkpoint of `base` taught the reference plans of `tasks` (real SFT).

    A random-init model emits no valid plan, so a loop started from it would curate nothing
    and never train; a short warm-up gives the loop something to select from.
    """
    from iterdeploy.config import load_config
    from iterdeploy.loop.setup import prompt_for
    from iterdeploy.training.config import TrainConfig
    from iterdeploy.training.sft import train

    config = load_config(None, ["model.template=compact"])
    examples = [
        {"prompt": prompt_for(config, t), "completion": "</think>\n" + "\n".join(t.reference_plan)}
        for t in tasks
    ]
    recipe = TrainConfig(
        method="full", epochs=120, learning_rate=1e-2, batch_size=16, validation_fraction=0.0,
        dtype="float32", logging_steps=50,
    )  # fmt: skip
    return Path(train(base, examples, recipe, out).path)
