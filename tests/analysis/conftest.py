"""Real small runs for the analysis tests: the loop on the fake backend with real training.

Two run folders, one per curation policy (`paper` and the `none` ablation), each with two runs
of base + 2 generations on a small Blocksworld pool with a held-out split. Built once per
session; tests that change the deployment pointer work on a copy.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

OVERRIDES = [
    "loop.runs=2",
    "loop.generations=2",
    "loop.chunk_tasks=16",
    "loop.validation_workers=1",
    "loop.heldout_samples=2",
    "pool.size=24",
    "pool.heldout=0.25",
    "pool.levels=[0, 1, 2]",
    "model.backend=fake",
    "model.backend_options={'valid_rate': 0.35, 'corrupt_rate': 0.3, 'truncate_rate': 0.1}",
    "generation.n=3",
    "generation.max_tokens=32",
    "training.method=full",
    "training.epochs=1",
    "training.learning_rate=1e-3",
    "training.batch_size=8",
    "training.validation_fraction=0.0",
    "training.dtype=float32",
]


@pytest.fixture(scope="session")
def analysis_cache(tmp_path_factory) -> Path:
    """A private cache for pools, exported to the loop through $ITERDEPLOY_CACHE."""
    with pytest.MonkeyPatch.context() as patch:
        path = tmp_path_factory.mktemp("analysis-cache")
        patch.setenv("ITERDEPLOY_CACHE", str(path))
        yield path


@pytest.fixture(scope="session")
def run_folders(tmp_path_factory, analysis_cache) -> dict[str, Path]:
    """Finished run folders keyed by policy: {"paper": ..., "none": ...}."""
    from iterdeploy.config import load_config
    from iterdeploy.embedded import build_random_model
    from iterdeploy.loop.orchestrator import start_run

    root = tmp_path_factory.mktemp("analysis-runs")
    model = build_random_model(root / "model", seed=0, size="test")
    folders = {}
    for policy in ("paper", "none"):
        overrides = [*OVERRIDES, f"model.base={model}", f"curation.policy={policy}"]
        folders[policy] = start_run(load_config(None, overrides), root / policy)
    return folders


@pytest.fixture(scope="session")
def two_domains(tmp_path_factory, analysis_cache):
    """A finished folder of 2 runs x 1 generation over Blocksworld and Gripper (fake backend)."""
    from iterdeploy.config import load_config
    from iterdeploy.embedded import build_random_model
    from iterdeploy.loop.orchestrator import start_run

    root = tmp_path_factory.mktemp("two-domains")
    model = build_random_model(root / "model", seed=0, size="test")
    overrides = [
        *OVERRIDES,
        "loop.generations=1",
        "pool.domains=['blocksworld', 'gripper']",
        f"model.base={model}",
    ]
    return start_run(load_config(None, overrides), root / "run")


@pytest.fixture
def paper_copy(run_folders, tmp_path) -> Path:
    """A private copy of the `paper` run folder, for tests that write to its store."""
    return Path(shutil.copytree(run_folders["paper"], tmp_path / "paper"))


@pytest.fixture(scope="session")
def sql():
    """A function running a read-only query on a run folder's store, apart from analysis."""
    return query_store


def query_store(folder: Path, query: str, params: tuple = ()) -> list[sqlite3.Row]:
    """Return the rows of a read-only query on a run folder's store."""
    con = sqlite3.connect(f"file:{folder / 'store.sqlite'}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return con.execute(query, params).fetchall()
    finally:
        con.close()
