"""Fixtures for loop tests: a private cache, a test-size model, and small run presets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> Path:
    """A cache folder for pools and models, shared by the session, exported to subprocesses."""
    path = tmp_path_factory.mktemp("cache")
    old = os.environ.get("ITERDEPLOY_CACHE")
    os.environ["ITERDEPLOY_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("ITERDEPLOY_CACHE", None)
    else:
        os.environ["ITERDEPLOY_CACHE"] = old


@pytest.fixture(scope="session")
def test_model(tmp_path_factory) -> Path:
    """A random-init test-size Qwen3 model folder (about 0.1M parameters)."""
    from iterdeploy.embedded import build_random_model

    return build_random_model(tmp_path_factory.mktemp("model") / "m", seed=0, size="test")
