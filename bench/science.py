"""Does the loop teach robustly? The quickstart over loop seeds x embedded-model build seeds.

Usage: nice .venv/bin/python bench/science.py [--base-seeds 1 2] [--loop-seed 1] [--runs 5]
           [--jobs 2] [--preset quickstart] [--out /tmp/bench-science] [--set key=value ...]

One run folder per base-model build seed (`embedded.seed`), each holding `--runs` seeded runs
(`loop.runs`, seeds derived from `--loop-seed`); folders run `--jobs` at a time, each process on
2 / jobs torch threads. Prints distinct pool and held-out problems solved per generation as
mean (min-max) over all runs, every run's held-out trajectory, and the bar of the robust-
learning issue: every run ends above its generation 0 on held-out problems, and the mean of the
last generation is at least 2x generation 0 on held-out and on pool problems.

Choose settings on tuning seeds and report on others: the held-out split is for evaluation only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import fmean

from iterdeploy.loop.orchestrator import read_summaries
from iterdeploy.loop.stages import GenerationSummary


def launch(preset: str, base_seed: int, args: argparse.Namespace) -> subprocess.Popen:
    """Start one run folder's `iterdeploy run` for `base_seed`; its log goes to a file beside it."""
    out = args.out / f"base-{base_seed}"
    command = [
        str(Path(sys.executable).with_name("iterdeploy")), "run", "--preset", preset,
        "--out", str(out), "--set", f"embedded.seed={base_seed}", "--set", f"loop.runs={args.runs}",
        "--set", f"loop.seed={args.loop_seed}",
    ]  # fmt: skip
    for item in args.overrides:
        command += ["--set", item]
    threads = str(max(1, (os.cpu_count() or 2) // args.jobs))
    env = os.environ | {"OMP_NUM_THREADS": threads, "OMP_WAIT_POLICY": "PASSIVE"}
    args.out.mkdir(parents=True, exist_ok=True)
    log = (args.out / f"base-{base_seed}.log").open("w")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)


def cell(values: list[int]) -> str:
    """Return `mean (min-max)` of `values`."""
    return f"{fmean(values):.1f} ({min(values)}-{max(values)})"


def report(by_base: dict[int, list[GenerationSummary]]) -> str:
    """Return the per-generation table, each run's held-out trajectory and the bar's verdicts."""
    rows = [s for summaries in by_base.values() for s in summaries]
    gens = sorted({s.generation for s in rows})
    first = rows[0]
    lines = [
        f"{len(by_base)} base builds, {len(rows) // len(gens)} runs in all; pool "
        f"{first.pool_problems} distinct problems, held-out {first.heldout_problems}",
        "gen | pool problems solved | held-out problems solved | curated",
    ]
    for g in gens:
        at = [s for s in rows if s.generation == g]
        lines.append(
            f"{g:>3} | {cell([s.pool_problems_solved for s in at])} | "
            f"{cell([s.heldout_problems_solved for s in at])} | "
            f"{fmean(s.curated_size for s in at):.0f}"
        )
    lines.append("held-out problems per run, generation 0 -> last:")
    rising = 0
    for base, summaries in by_base.items():
        for run in sorted({s.run for s in summaries}):
            path = [s.heldout_problems_solved for s in summaries if s.run == run]
            rising += path[-1] > path[0]
            lines.append(f"  base seed {base}, run {run}: {' -> '.join(map(str, path))}")
    last, zero = gens[-1], gens[0]

    def mean_at(g: int, field: str) -> float:
        return fmean(getattr(s, field) for s in rows if s.generation == g)

    runs = len(rows) // len(gens)
    held = mean_at(last, "heldout_problems_solved") / max(
        mean_at(zero, "heldout_problems_solved"), 1e-9
    )
    pool = mean_at(last, "pool_problems_solved") / max(mean_at(zero, "pool_problems_solved"), 1e-9)
    lines += [
        f"bar: runs ending above generation 0 on held-out problems: {rising} of {runs} "
        f"({'met' if rising == runs else 'NOT met'})",
        f"bar: mean held-out problems, last / generation 0: {held:.2f}x "
        f"({'met' if held >= 2 else 'NOT met'}, >= 2x)",
        f"bar: mean pool problems, last / generation 0: {pool:.2f}x "
        f"({'met' if pool >= 2 else 'NOT met'}, >= 2x)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quickstart")
    parser.add_argument("--base-seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--loop-seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5, help="loop runs per base build")
    parser.add_argument("--jobs", type=int, default=2, help="run folders at a time")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-science"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    start = time.perf_counter()
    waiting, running, failed = list(args.base_seeds), {}, []
    while waiting or running:
        while waiting and len(running) < args.jobs:
            seed = waiting.pop(0)
            running[seed] = launch(args.preset, seed, args)
        time.sleep(2)
        for seed, process in list(running.items()):
            if process.poll() is not None:
                del running[seed]
                status = "done" if process.returncode == 0 else f"FAILED ({process.returncode})"
                print(f"base seed {seed}: {status} at {time.perf_counter() - start:.0f} s",
                      flush=True)  # fmt: skip
                if process.returncode:
                    failed.append(seed)
    if failed:
        sys.exit(f"runs failed for base seeds {failed}: see {args.out}/base-<seed>.log")
    by_base = {seed: read_summaries(args.out / f"base-{seed}") for seed in args.base_seeds}
    print(report(by_base))
    print(f"wall {time.perf_counter() - start:.0f} s, {args.jobs} at a time")


if __name__ == "__main__":
    main()
