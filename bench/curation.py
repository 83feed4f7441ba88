"""The paper's curation ablation on a CPU: quickstart with `paper` vs `none`, 3 runs each.

Usage: nice .venv/bin/python bench/curation.py [--runs 3] [--out /tmp/bench-curation]
                                                 [--set key=value ...]
Prints pool-solved, held-out-solved in tasks and in distinct problems (a level that runs out of
new problems keeps copies), each as mean over runs (min-max), and the mean curated-set size
per generation for both policies (each run has its own seed derived from loop.seed), plus wall
time.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path
from statistics import fmean

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from iterdeploy.config import load_config  # noqa: E402
from iterdeploy.loop.orchestrator import start_run  # noqa: E402
from iterdeploy.loop.stages import GenerationSummary  # noqa: E402

POLICIES = ("paper", "none")


def run_policy(policy: str, runs: int, out: Path, extra: list[str]) -> list[GenerationSummary]:
    """Return the summaries of a quickstart run folder with `policy` and `runs` runs."""
    from iterdeploy.loop.orchestrator import read_summaries

    overrides = [f"curation.policy={policy}", f"loop.runs={runs}", *extra]
    config = load_config("quickstart", overrides)
    start = time.perf_counter()
    folder = start_run(config, out / f"{policy}-{int(time.time())}")
    print(f"{policy}: {time.perf_counter() - start:.0f} s, {folder}", flush=True)
    return read_summaries(folder)


def cell(values: list[int]) -> str:
    """Return the mean of `values` with their range: `12.3 (10-15)`."""
    return f"{fmean(values):.1f} ({min(values)}-{max(values)})"


def table(results: dict[str, list[GenerationSummary]]) -> str:
    """Return mean (min-max) solved on pool and held-out and curated size per generation."""
    gens = sorted({s.generation for rows in results.values() for s in rows})
    first = next(iter(results.values()))[0]
    head = "gen | " + " | ".join(
        f"{p} pool/{first.pool_tasks} | {p} held-out/{first.heldout_tasks} | "
        f"{p} held-out problems/{first.heldout_problems} | {p} curated"
        for p in results
    )
    lines = [head, "-" * len(head)]
    for g in gens:
        cells = []
        for rows in results.values():
            at = [s for s in rows if s.generation == g]
            cells += [
                cell([s.pool_solved for s in at]),
                cell([s.heldout_solved for s in at]),
                cell([s.heldout_problems_solved for s in at]),
                f"{fmean(s.curated_size for s in at):.0f}",
            ]
        lines.append(f"{g:>3} | " + " | ".join(cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-curation"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    results = {p: run_policy(p, args.runs, args.out, args.overrides) for p in POLICIES}
    print(table(results))


if __name__ == "__main__":
    main()
