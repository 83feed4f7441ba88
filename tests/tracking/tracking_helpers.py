"""Helpers for the tracking tests: a one-generation preset (a module name no other test uses)."""

from __future__ import annotations

from pathlib import Path


def write_preset(path: Path, model: Path, extra: str = "") -> Path:
    """Write a one-generation preset on the fake backend with real (tiny) training."""
    path.write_text(
        f"""
[loop]
generations = 1
chunk_tasks = 8
validation_workers = 1

[pool]
size = 16
heldout = 0.25
levels = [0, 1]

[model]
base = "{model}"
backend = "fake"
backend_options = {{ valid_rate = 0.5, corrupt_rate = 0.3 }}

[generation]
n = 2
max_tokens = 32

[training]
method = "full"
epochs = 1
learning_rate = 1e-3
batch_size = 8
validation_fraction = 0.0
dtype = "float32"
logging_steps = 1
{extra}""",
        encoding="utf-8",
    )
    return path
