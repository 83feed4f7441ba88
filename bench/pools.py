"""Time building the paper's three main pools (1000 tasks each) with reference plans.

Reports, per domain, the wall time of `build_pool` on this machine, and per difficulty level the
planner seconds (summed over the worker processes), the median reference plan length and the
share of plans proved optimal. A second, side-by-side measurement times the reference planner
per task with and without the breadth-first shortcut for tiny tasks (medians and their ratio).

    nice .venv/bin/python bench/pools.py                    # 3 x 1000 tasks (tens of minutes)
    nice .venv/bin/python bench/pools.py --size 100 --domains sokoban
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path

from iterdeploy.domains import DOMAINS
from iterdeploy.domains.planner import PlannerConfig, find_plan
from iterdeploy.domains.pool import build_pool, load_pool
from iterdeploy.pddl.parser import parse_domain, parse_problem
from iterdeploy.pddl.validate import prepare


def time_pool(domain: str, size: int, seed: int, out: Path, jobs: int | None) -> None:
    """Build one pool and print its wall time and per-level planner figures."""
    started = time.perf_counter()
    folder = build_pool(domain, size, seed, out / domain, jobs=jobs)
    wall = time.perf_counter() - started
    stats = json.loads((folder / "build.json").read_text())
    tasks = load_pool(folder)
    total = sum(stats["planner_seconds"].values())
    print(f"\n{domain}: {size} tasks in {wall:.0f} s wall, {total:.0f} s planner time")
    print(f"  replaced {len(stats['replaced'])} tasks, {stats['duplicates']} duplicates kept")
    print("  level  planner s  share  median len  optimal  methods")
    for level, seconds in stats["planner_seconds"].items():
        group = [t for t in tasks if t.difficulty == int(level)]
        methods = sorted({t.planner.split(" (")[0] for t in group})
        median = statistics.median(t.reference_length for t in group)
        optimal = sum(t.optimal for t in group) / len(group)
        print(
            f"  {level:>5} {seconds:>10.1f} {seconds / total:>6.0%} {median:>11g} "
            f"{optimal:>8.0%}  {', '.join(methods)}"
        )


def compare_bfs(domain: str, count: int, levels: range) -> None:
    """Time the reference planner per task with and without breadth-first search first."""
    dom = DOMAINS.get(domain)
    parsed = parse_domain(dom.domain_pddl)
    with_bfs, without = [], []
    for index in range(count):
        rng = random.Random(f"bench:{index}")
        level = levels[index % len(levels)]
        problem = dom.generate(rng, dom.sample_params(rng, dom.level_ranges(level)))
        for config, times in ((PlannerConfig(), with_bfs), (PlannerConfig(bfs_states=0), without)):
            started = time.perf_counter()
            checker = prepare(parsed, parse_problem(problem))
            result = find_plan(dom.domain_pddl, problem, config, checker, dom.optimal_first)
            times.append(time.perf_counter() - started)
            assert result.plan, f"no plan for bench task {index}"
    fast, slow = statistics.median(with_bfs), statistics.median(without)
    print(
        f"\nreference plan per task, {domain} levels {levels.start}-{levels.stop - 1}, "
        f"{count} tasks: median {fast * 1000:.0f} ms with BFS first, {slow * 1000:.0f} ms "
        f"Fast Downward only: {slow / fast:.1f}x faster"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--domains", default="blocksworld,rovers,sokoban")
    parser.add_argument("--jobs", type=int, default=None, help="planner processes")
    parser.add_argument("--compare", type=int, default=40, help="tasks in the BFS comparison")
    parser.add_argument("--out", type=Path, default=None, help="keep the pools here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.compare:
        compare_bfs("blocksworld", args.compare, range(0, 4))
    with tempfile.TemporaryDirectory(prefix="iterdeploy-bench-") as scratch:
        out = args.out or Path(scratch)
        for domain in args.domains.split(","):
            time_pool(domain, args.size, args.seed, out, args.jobs)


if __name__ == "__main__":
    main()
