"""The run folder's files beside the store: config.toml, curated sets, summary.json.

    runs/<run_id>/store.sqlite        the store (schema in loop/store/core.py, docs/loop.md)
    runs/<run_id>/config.toml         the resolved config; a resume must match it
    runs/<run_id>/datasets/r<run>/g<gen>.jsonl   curated sets, TRL prompt/completion rows
    runs/<run_id>/adapters/r<run>/g<gen>/        what `train` wrote for generation <gen>
    runs/<run_id>/summary.json        per run and generation numbers, once the run finished
    runs/<run_id>/tracking/, tracking.json   tracker files ([tracking]) and what each received

Files are written atomically (a temporary file, fsync, rename), so a kill leaves the old file
or the new one, never half of one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from iterdeploy.config import RunConfig, from_dict, read_toml
from iterdeploy.errors import StoreError
from iterdeploy.loop.stages import GenerationSummary


def new_run_id() -> str:
    """Return a run id: the UTC time plus a random suffix, e.g. 20260101-120000-3fa9c1."""
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def load_run_config(folder: Path) -> RunConfig:
    """Return the resolved config stored in a run folder."""
    path = folder / "config.toml"
    if not path.is_file():
        raise StoreError(f"{folder} is not a run folder (no config.toml); check the path")
    return from_dict(RunConfig, read_toml(path))


def write_dataset(
    folder: Path, run: int, generation: int, examples: Sequence[Mapping[str, str]]
) -> tuple[str, str]:
    """Write curated set `generation` as JSONL; return its path (relative to `folder`) and
    the sha256 of its text."""
    relative = Path("datasets") / f"r{run}" / f"g{generation}.jsonl"
    text = _jsonl(examples)
    write_atomic(folder / relative, text)
    return relative.as_posix(), sha(text)


def read_dataset(folder: Path, path: str, digest: str) -> list[dict[str, str]]:
    """Return the examples of a curated set, checked against the digest stored for it."""
    examples = [
        json.loads(line) for line in (folder / path).read_text(encoding="utf-8").splitlines()
    ]
    if sha(_jsonl(examples)) != digest:
        raise StoreError(
            f"{folder / path} was modified after curation; restore it or start a new run"
        )
    return examples


def _jsonl(examples: Sequence[Mapping[str, str]]) -> str:
    """Return `examples` as JSONL text, the form whose sha256 is a curated set's digest."""
    return "".join(json.dumps(e) + "\n" for e in examples)


def write_summary(folder: Path, summaries: Sequence[GenerationSummary], run_id: str) -> Path:
    """Write summary.json (per run and generation) and return its path."""
    runs: dict[int, list[dict[str, Any]]] = {}
    for s in summaries:
        runs.setdefault(s.run, []).append(dataclasses.asdict(s))
    data = {
        "run_id": run_id,
        "runs": [{"run": run, "generations": gens} for run, gens in sorted(runs.items())],
    }
    path = folder / "summary.json"
    write_atomic(path, json.dumps(data, indent=2) + "\n")
    return path


def read_summaries(folder: str | Path) -> list[GenerationSummary]:
    """Return the summaries of a finished run folder (from summary.json)."""
    path = Path(folder) / "summary.json"
    if not path.is_file():
        raise StoreError(f"{path} does not exist: the run has not finished; resume it first")
    data = json.loads(path.read_text(encoding="utf-8"))
    # A summary.json from before the problem counts loads with them None (their defaults).
    return [GenerationSummary(**g) for r in data["runs"] for g in r["generations"]]


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that a kill leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def sha(text: str) -> str:
    """Return the sha256 hex digest of `text` (UTF-8)."""
    return hashlib.sha256(text.encode()).hexdigest()
