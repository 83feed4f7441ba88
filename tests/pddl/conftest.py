"""Fixtures of the pddl tests: the tiny typed task in tests/pddl/data and IPC Blocksworld."""

from __future__ import annotations

from pathlib import Path

import pytest

from iterdeploy.pddl.parser import load_domain, load_problem
from iterdeploy.pddl.validate import Checker, prepare

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def typed_checker() -> Checker:
    """The depot-mini task: typing, either, constants, negation, equality, action costs."""
    return prepare(
        load_domain(DATA / "typed-domain.pddl"), load_problem(DATA / "typed-problem.pddl")
    )


@pytest.fixture(scope="session")
def blocks_checker(benchmarks: Path) -> Checker:
    """IPC-2023 Blocksworld training p05: three blocks in a tower, goal all on the table."""
    folder = benchmarks / "ipc2023-learning" / "blocksworld"
    return prepare(
        load_domain(folder / "domain.pddl"), load_problem(folder / "training/easy/p05.pddl")
    )
