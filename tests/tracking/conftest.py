"""Fixtures for the tracking tests: a private cache and a test-size model."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> Path:
    """A cache for pools, exported to the loop (and its subprocesses) through the environment."""
    with pytest.MonkeyPatch.context() as patch:
        path = tmp_path_factory.mktemp("cache")
        patch.setenv("ITERDEPLOY_CACHE", str(path))
        yield path


@pytest.fixture(scope="session")
def test_model(tmp_path_factory) -> Path:
    """A random-init test-size Qwen3 model folder (about 0.1M parameters)."""
    from iterdeploy.embedded import build_random_model

    return build_random_model(tmp_path_factory.mktemp("model") / "m", seed=0, size="test")


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
