"""Shared pytest set-up: the `slow` and `gpu` markers, the benchmark-data locations, a private
cache and a test-size model."""

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


BENCHMARKS_REQUIRED = "ITERDEPLOY_BENCHMARKS_REQUIRED"  # set by .ci/run: missing data fails


def benchmarks_dir() -> Path | None:
    """Return the IPC benchmark folder ($ITERDEPLOY_BENCHMARKS, else ../shared/benchmarks next
    to the repository), or None when it is not there."""
    path = Path(os.environ.get("ITERDEPLOY_BENCHMARKS", REPO.parent / "shared" / "benchmarks"))
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def benchmarks() -> Path:
    """The third-party IPC benchmark folder; tests that use it skip when it is absent.

    The skip reason is the same one line for every such test, so pytest -rs groups them. Under
    .ci/run ($ITERDEPLOY_BENCHMARKS_REQUIRED=1) a missing folder fails the tests instead.
    """
    path = benchmarks_dir()
    if path is None:
        if os.environ.get(BENCHMARKS_REQUIRED):
            pytest.fail(NO_BENCHMARKS)
        pytest.skip(NO_BENCHMARKS)
    return path


NO_BENCHMARKS = (
    "IPC benchmark data not found: set ITERDEPLOY_BENCHMARKS to the folder holding "
    "ipc-classic/ and ipc2023-learning/ (default ../shared/benchmarks)"
)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Report every benchmark-data skip at this file, so `-ra` folds them into one line."""
    report = yield
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and longrepr[2].endswith(NO_BENCHMARKS):
        report.longrepr = (__file__, pytest_runtest_makereport.__code__.co_firstlineno, longrepr[2])
    return report


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> Path:
    """A cache for pools and models, exported to the loop (and its subprocesses) through the
    environment for the whole session."""
    with pytest.MonkeyPatch.context() as patch:
        path = tmp_path_factory.mktemp("cache")
        patch.setenv("ITERDEPLOY_CACHE", str(path))
        yield path


@pytest.fixture(scope="session")
def test_model(tmp_path_factory) -> Path:
    """A random-init test-size Qwen3 model folder (about 0.1M parameters)."""
    from iterdeploy.embedded import build_random_model

    return build_random_model(tmp_path_factory.mktemp("model") / "m", seed=0, size="test")
