"""Shared pytest set-up: the `slow` and `gpu` markers and the benchmark-data locations."""

from __future__ import annotations

import os
from pathlib import Path

# Before torch is imported anywhere: busy-waiting OpenMP threads make 2-core CPU runs 5-50x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run_slow = config.getoption("--slow")
    has_cuda = _has_cuda()
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(pytest.mark.skip(reason="slow: opt in with --slow"))
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="gpu: no CUDA device"))


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def shared_dir() -> Path:
    """Return ../shared next to the repository (CI lays a copy there), or $ITERDEPLOY_SHARED."""
    path = Path(os.environ.get("ITERDEPLOY_SHARED", REPO.parent / "shared"))
    if not (path / "benchmarks").is_dir():
        raise RuntimeError(
            f"benchmark data not found at {path}/benchmarks; set ITERDEPLOY_SHARED to the "
            "folder that holds benchmarks/"
        )
    return path


@pytest.fixture(scope="session")
def benchmarks() -> Path:
    """The real IPC benchmark folder (../shared/benchmarks)."""
    return shared_dir() / "benchmarks"
