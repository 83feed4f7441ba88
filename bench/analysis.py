"""Analysis speed at the paper's scale: report, audit and lineage vs a bare read of the store.

Usage: nice .venv/bin/python bench/analysis.py [--tasks 1000] [--repeats 3] [--out /tmp/x]

Builds one run folder shaped like the paper's experiment: 3 domains x `--tasks` pool tasks plus
20% held out, 3 runs x generations 0..5, one trace per task, curated with the real `paper`
policy, written through `loop.store.Store` (the real schema). Traces are synthetic: validity
rises with the generation, plan lengths scatter around the reference. Then it times, side by
side and alternating, (a) a bare read of the same columns with sqlite3 + json (the floor any
analysis pays) and (b) `write_report`, and reports medians and their ratio, plus the audit
alone and `trace_lineage` per call.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from statistics import median

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from iterdeploy.analysis.audit import audit_run  # noqa: E402
from iterdeploy.analysis.lineage import trace_lineage  # noqa: E402
from iterdeploy.analysis.report import write_report  # noqa: E402
from iterdeploy.curation.policies import curate, resolve_policy  # noqa: E402
from iterdeploy.loop.runfolder import write_dataset  # noqa: E402
from iterdeploy.loop.store import Store, add_dataset, add_traces, mark_done, now  # noqa: E402
from iterdeploy.records import StoredTrace  # noqa: E402

DOMAINS = ("blocksworld", "rovers", "sokoban")
ACTIONS = ("(pick-up a)", "(stack a b)", "(unstack b a)", "(put-down a)")


def build(folder: Path, tasks_per_domain: int, runs: int = 3, generations: int = 5) -> Path:
    """Write a paper-sized run folder and return it."""
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    tasks = []
    for domain in DOMAINS:
        for i in range(int(tasks_per_domain * 1.2)):
            split = "pool" if i < tasks_per_domain else "heldout"
            tasks.append((f"{domain}-{i:04d}", domain, split, i % 5, 4 + 3 * (i % 5)))
    with Store(folder / Store.FILENAME, create=True) as store, store.transaction() as db:
        db.execute("INSERT INTO meta VALUES ('run_id', ?)", (folder.name,))
        db.executemany(
            "INSERT INTO tasks VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(t, d, s, str(lv), "{}", "", "[]", ref, t, t, t) for t, d, s, lv, ref in tasks],
        )
        for run in range(runs):
            db.execute("INSERT INTO runs VALUES (?, ?, ?, NULL)", (run, run, now()))
            scored: list[StoredTrace] = []
            for gen in range(generations + 1):
                _generation(db, folder, rng, tasks, run, gen, scored, generations)
    return folder


def _generation(db, folder, rng, tasks, run, gen, scored, generations) -> None:
    db.execute(
        "INSERT INTO generations VALUES (?,?,?,?,?,?,?)",
        (run, gen, json.dumps({"n": 1, "temperature": 0.6}), 1, "bench", "0", now()),
    )
    if gen == 0:
        db.execute(
            "INSERT INTO models VALUES (?,0,'base','base',NULL,NULL,NULL,'{}','[]','[]',0)", (run,)
        )
    traces = []
    for task_id, _, split, level, ref in tasks:
        valid = rng.random() < 0.05 + 0.03 * gen - 0.008 * level
        n = ref + rng.choice((0, 0, 1, 2, ref)) if valid else rng.randint(1, 2 * ref)
        tokens = rng.randint(500, 8000)
        traces.append(
            StoredTrace(
                run, gen, task_id, 0, split, valid,
                plan=tuple(rng.choice(ACTIONS) for _ in range(n)), reasoning_tokens=tokens,
                reason="ok" if valid else "goal-not-reached", prompt=task_id,
                prompt_digest=task_id, output_tokens=tokens + n, extraction="r",
            )
        )  # fmt: skip
    add_traces(db, traces)
    scored.extend(traces)
    mark_done(db, run, gen, "deploy")
    mark_done(db, run, gen, "evaluate")
    db.execute(
        "INSERT INTO deployments (at, run, generation, action, reason) VALUES "
        "(?, ?, ?, 'deploy', 'bench')",
        (now(), run, gen),
    )
    if gen == generations:
        return
    examples = curate(resolve_policy("paper"), scored, random.Random(gen))
    rows = [{"prompt": e.prompt, "completion": e.completion} for e in examples]
    path, digest = write_dataset(folder, run, gen + 1, rows)
    dataset = {"run": run, "generation": gen + 1, "policy": "paper", "params": "{}",
               "require": "[]", "digest": digest, "size": len(examples), "path": path}  # fmt: skip
    add_dataset(db, dataset, [(e.task_id, e.generation, e.sample) for e in examples])
    db.execute(
        "INSERT INTO models VALUES (?,?,'base','lora','a',?,?,'{}','[]','[]',1.0)",
        (run, gen + 1, f"adapter{gen}", digest),
    )


def bare_read(folder: Path) -> int:
    """Read the columns analysis needs with plain sqlite3 + json: the floor."""
    con = sqlite3.connect(folder / Store.FILENAME)
    n = 0
    for row in con.execute(
        "SELECT run, generation, task_id, sample, valid, reason, plan, "
        "reasoning_tokens, truncated, checks FROM traces"
    ):
        n += len(json.loads(row[6])) + len(json.loads(row[9]))
    con.close()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000, help="pool tasks per domain")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="bench-analysis-"))
    start = time.perf_counter()
    folder = build(root / "run", args.tasks)
    traces = (
        sqlite3.connect(folder / Store.FILENAME)
        .execute("SELECT COUNT(*) FROM traces")
        .fetchone()[0]
    )
    print(f"built {folder}: {traces} traces in {time.perf_counter() - start:.1f} s")
    floor, full, audit = [], [], []
    for i in range(args.repeats):
        floor.append(_timed(bare_read, folder))
        full.append(_timed(write_report, [folder], root / f"report{i}"))
        audit.append(_timed(audit_run, folder))
    ids = [
        f"{r}/{g}/{d}-{t:04d}/0" for r in range(3) for g in (0, 3) for d in DOMAINS for t in (0, 5)
    ]
    lineage = [_timed(trace_lineage, folder, i) for i in ids]
    print(f"bare read (floor)  median {median(floor):7.2f} s")
    print(
        f"report (all)       median {median(full):7.2f} s  = {median(full) / median(floor):.1f}x "
        "the floor"
    )
    print(f"audit only         median {median(audit):7.2f} s")
    print(f"lineage per trace  median {1000 * median(lineage):7.1f} ms")


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
