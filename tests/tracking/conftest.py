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
