"""Task pools: seeded problems over a difficulty ladder, reference plans and a held-out split.

A pool folder holds `domain.pddl`, `problems/<id>.pddl`, `manifest.jsonl` (one task per line),
`build.json` (timings and counts, not part of the content) and `pool.json`, the completion marker
written last. The pool is built in a sibling scratch folder and renamed into place, so a folder
with a `pool.json` is always complete.

Every task is a distinct problem (`content_key`): no two tasks share one, in a split or across
the pool and held-out splits. Problems are drawn in the main process from one seeded stream per
difficulty level (cheap, and it lets us skip repeats); planner calls run in a process pool. A
level whose stream yields no new problem in `_MAX_REPEAT_DRAWS` draws in a row has run out: its
unfilled share goes to the next level (logged once), and when the last level runs out too the
build fails, saying how many distinct problems the levels gave. A task whose planner call fails
is replaced by the next new problem of its level, and the replacement is logged.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import random
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, astuple, dataclass
from pathlib import Path
from typing import Any

from iterdeploy.domains import DOMAINS
from iterdeploy.domains.base import Domain, Task
from iterdeploy.domains.planner import PlannerConfig, find_plan
from iterdeploy.errors import ConfigError, StoreError
from iterdeploy.locks import locked
from iterdeploy.pddl.model import Domain as PDDLDomain
from iterdeploy.pddl.parser import parse_domain, parse_problem
from iterdeploy.pddl.validate import Checker, prepare

log = logging.getLogger(__name__)

FORMAT = 4  # bump when the pool layout, the generation scheme or the split rule changes
MARKER = "pool.json"
MANIFEST = "manifest.jsonl"
_MAX_ATTEMPTS = 25  # planner failures per task before the build gives up
_MAX_REPEAT_DRAWS = 300  # draws in a row that repeat a problem before a level counts as spent


@dataclass(frozen=True, slots=True)
class _Draw:
    """One generated problem waiting for its reference plan."""

    index: int
    attempt: int
    level: int
    params: dict[str, int]
    problem: str


@dataclass(frozen=True, slots=True)
class _Solved:
    """A planner worker's answer for one draw."""

    plan: tuple[str, ...] | None
    optimal: bool
    seconds: float
    status: str
    method: str  # the search that found the plan


def build_pool(
    domain: str,
    size: int,
    seed: int,
    out: str | Path,
    *,
    levels: Sequence[int] | None = None,
    heldout: float = 0.2,
    planner: PlannerConfig | None = None,
    jobs: int | None = None,
    force: bool = False,
    max_attempts: int = 25,
) -> Path:
    """Build (or find up to date) a pool of `size` tasks of `domain` in `out`; return `out`.

    `levels` restricts the difficulty ladder (default: every level); tasks are spread evenly
    over the levels in order. `heldout` is the fraction of each level put in the held-out split.
    A complete pool with the same settings is left untouched; a different one needs `force`.
    A task whose planner call fails `max_attempts` times (each a new draw) stops the build.
    """
    dom = DOMAINS.get(domain)
    planner = planner or PlannerConfig()
    levels = check_settings(dom, size, levels, heldout)
    out = Path(out)
    key = {
        "format": FORMAT,
        "domain": domain,
        "size": size,
        "seed": seed,
        "levels": list(levels),
        "ladder": [{k: list(v) for k, v in dom.ladder[lv].items()} for lv in levels],
        "heldout": heldout,
        "planner": asdict(planner),
    }
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the pool folder {out}: {exc.strerror}; choose a writable --out"
        ) from exc
    # Runs that share a cache may ask for the same pool at once: one builds, the others wait
    # and find it up to date.
    with locked(out.parent / f".{out.name}.lock"):
        if is_up_to_date(out, key, force):
            log.info("pool %s is up to date (%s, %d tasks, seed %d)", out, domain, size, seed)
            return out
        return _build(dom, out, key, size, seed, levels, heldout, planner, jobs, max_attempts)


def _build(
    dom: Domain,
    out: Path,
    key: dict,
    size: int,
    seed: int,
    levels: list[int],
    heldout: float,
    planner: PlannerConfig,
    jobs: int | None,
    max_attempts: int,
) -> Path:
    """Build the pool of `key` in a scratch folder and move it to `out`; return `out`."""
    scratch = make_scratch(out)
    try:
        started = time.perf_counter()
        jobs = jobs or os.cpu_count() or 1
        records, stats = solve_tasks(dom, size, seed, levels, planner, jobs, max_attempts)
        assign_split(records, seed, heldout)
        stats["wall_seconds"] = round(time.perf_counter() - started, 3)
        write_pool(scratch, dom, records, key, stats)
        if out.exists():
            shutil.rmtree(out)
        os.replace(scratch, out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log.info("pool %s: %d %s tasks in %.1f s", out, size, dom.name, stats["wall_seconds"])
    return out


def check_settings(
    dom: Domain, size: int, levels: Sequence[int] | None, heldout: float
) -> list[int]:
    """Return the ladder levels to use, raising ConfigError on impossible settings."""
    if not isinstance(size, int) or size < 1:
        raise ConfigError(f"pool size {size!r} must be an integer >= 1")
    if not 0 <= heldout < 1:
        raise ConfigError(f"heldout fraction {heldout!r} must be in [0, 1), e.g. 0.2")
    chosen = list(range(len(dom.ladder))) if levels is None else sorted(set(levels))
    if not chosen:
        raise ConfigError(f"no difficulty levels given; {dom.name!r} has 0..{len(dom.ladder) - 1}")
    for level in chosen:
        dom.level_ranges(level)
    return chosen


def is_up_to_date(out: Path, key: dict, force: bool) -> bool:
    """Return True when `out` holds a complete pool built with `key`; refuse to clobber."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise ConfigError(f"pool folder {out} exists and is a file; choose another --out")
    marker = out / MARKER
    if marker.is_file():
        try:
            built = json.loads(marker.read_text())["build"]
        except (ValueError, KeyError) as exc:
            raise ConfigError(
                f"{marker} is unreadable ({exc}); pass --force to rebuild the pool"
            ) from exc
        if built == key:  # `force` replaces a different pool, never an identical one
            return True
        if not force:
            changed = sorted(k for k in key if built.get(k) != key[k])
            raise ConfigError(
                f"{out} holds a different pool (differs in {', '.join(changed)}); "
                "choose another --out or pass --force to replace it"
            )
    elif any(out.iterdir()) and not force:
        raise ConfigError(
            f"{out} is not empty and holds no complete pool (no {MARKER}); "
            "remove it, choose another --out, or pass --force to replace it"
        )
    return False


def make_scratch(out: Path) -> Path:
    """Return a fresh scratch folder next to `out` (same file system, so renaming is atomic)."""
    scratch = out.parent / f".{out.name}.partial-{os.getpid()}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)
        (scratch / "problems").mkdir(parents=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the pool folder {out}: {exc.strerror}; choose a writable --out"
        ) from exc
    return scratch


def solve_tasks(
    dom: Domain,
    size: int,
    seed: int,
    levels: list[int],
    planner: PlannerConfig,
    jobs: int,
    max_attempts: int = _MAX_ATTEMPTS,
) -> tuple[list[dict], dict]:
    """Return the manifest records of all tasks (in index order) and the build stats."""
    stats: dict = {"planner_seconds": defaultdict(float), "replaced": []}
    streams = _Streams(dom, seed)
    pending = draw_tasks(streams, size, levels, stats)
    records: dict[int, dict] = {}
    with _executor(jobs) as pool:
        while pending:
            # plain tuples cross the process boundary (frozen slotted dataclasses do not
            # unpickle on Python 3.10)
            jobs_in = [(dom.name, d.problem, astuple(planner)) for d in pending]
            answers = [_Solved(*answer) for answer in pool.map(_solve, jobs_in)]
            retry = []
            for draw, answer in zip(pending, answers, strict=True):
                stats["planner_seconds"][draw.level] += answer.seconds
                if answer.plan:
                    records[draw.index] = make_record(dom, draw, answer, seed, planner)
                    if len(records) % 100 == 0:
                        log.info("%s: %d of %d tasks planned", dom.name, len(records), size)
                    continue
                replaced = {"index": draw.index, "attempt": draw.attempt, "reason": answer.status}
                log.warning("task %d of %s replaced: %s", draw.index, dom.name, answer.status)
                stats["replaced"].append(replaced)
                if draw.attempt + 1 >= max_attempts:
                    raise ConfigError(
                        f"{dom.name}: task {draw.index} (level {draw.level}) failed {max_attempts}"
                        f" planner attempts (last: {answer.status}); raise the planner time limit"
                        " or restrict the levels"
                    )
                retry.append(streams.replacement(draw))
            pending = retry
    stats["planner_seconds"] = {
        str(k): round(v, 3) for k, v in sorted(stats["planner_seconds"].items())
    }
    stats["draws"] = {str(k): v for k, v in sorted(streams.drawn.items())}
    stats["distinct_problems"] = len({content_key(r["problem"]) for r in records.values()})
    return [records[i] for i in range(size)], stats


class _Streams:
    """One seeded stream of problems per difficulty level, yielding only problems new to the pool.

    Draw k of level L comes from `random.Random("<domain>:<seed>:<L>:<k>")` alone, so a pool
    depends on its seed and settings only; `seen` spans every level and both splits.
    """

    def __init__(self, dom: Domain, seed: int) -> None:
        self.dom, self.seed = dom, seed
        self.seen: set[str] = set()
        self.drawn: Counter[int] = Counter()  # draws made per level, repeats included

    def next(self, level: int, index: int, attempt: int = 0) -> _Draw | None:
        """Return the level's next new problem as task `index`, or None when the level is spent
        (`_MAX_REPEAT_DRAWS` draws in a row gave only problems already in the pool)."""
        dom = self.dom
        for _ in range(_MAX_REPEAT_DRAWS):
            rng = random.Random(f"{dom.name}:{self.seed}:{level}:{self.drawn[level]}")
            self.drawn[level] += 1
            params = dom.sample_params(rng, dom.level_ranges(level))
            problem = dom.generate(rng, params, name=f"{dom.name}-{index:04d}")
            key = content_key(problem)
            if key not in self.seen:
                self.seen.add(key)
                return _Draw(index, attempt, level, params, problem)
        return None

    def replacement(self, failed: _Draw) -> _Draw:
        """Return a new problem of `failed`'s level for its task, whose planner call failed."""
        draw = self.next(failed.level, failed.index, failed.attempt + 1)
        if draw is None:
            raise ConfigError(
                f"{self.dom.name}: level {failed.level} has no new problem left to replace task "
                f"{failed.index}, whose reference plan could not be found; restrict the levels"
            )
        return draw


def draw_tasks(streams: _Streams, size: int, levels: list[int], stats: dict) -> list[_Draw]:
    """Return `size` distinct problems spread evenly over `levels` in order.

    A level that runs out of new problems gives the rest of its share to the next level (one
    warning per level); when the last level runs out too, raise ConfigError with the count found.
    """
    dom = streams.dom
    shares = Counter(levels[i * len(levels) // size] for i in range(size))
    draws: list[_Draw] = []
    stats["tasks_per_level"], stats["spent_levels"] = {}, []
    short = 0
    for level in levels:
        want, got = shares[level] + short, 0
        while got < want and (draw := streams.next(level, len(draws))) is not None:
            draws.append(draw)
            got += 1
        stats["tasks_per_level"][str(level)] = got
        short = want - got
        if short:
            stats["spent_levels"].append(level)
            after = f"level {levels[levels.index(level) + 1]}" if level != levels[-1] else None
            log.warning(
                "%s level %d ran out of new problems after %d (%d draws in a row repeated one)%s",
                dom.name, level, got, _MAX_REPEAT_DRAWS,
                f"; its other {short} tasks go to {after}" if after else "",
            )  # fmt: skip
    if short:
        raise ConfigError(
            f"{dom.name}: levels {levels} hold only {len(draws)} distinct problems (each level "
            f"drawn until {_MAX_REPEAT_DRAWS} draws in a row repeated a problem), fewer than "
            f"the {size} tasks asked for; lower the pool size or add harder levels"
        )
    return draws


def content_key(problem: str) -> str:
    """Return a digest of a problem's objects, init and goal (ignoring its name and comments)."""
    body = [line for line in problem.splitlines() if not line.startswith((";", "(define"))]
    return hashlib.sha256("\n".join(body).encode()).hexdigest()


def _solve(job: tuple[str, str, tuple]) -> tuple:
    """Return the reference plan of one problem, checked by our validator, as the fields of a
    `_Solved` (runs in a worker process)."""
    name, problem, settings = job
    planner = PlannerConfig(*settings)
    dom = DOMAINS.get(name)
    checker = _checker(name, problem)
    result = find_plan(dom.domain_pddl, problem, planner, checker, dom.optimal_first)
    if result.plan is None:
        return (None, False, result.seconds, result.status, "")
    if not result.plan:
        return (None, False, result.seconds, "goal holds in the initial state", "")
    verdict = checker.validate(list(result.plan))
    if not verdict.valid:
        status = f"validator rejects the planner's plan: {verdict.reason.value} {verdict.detail}"
        return (None, False, result.seconds, status, "")
    return (result.plan, result.optimal, result.seconds, "solved", result.method)


def _checker(name: str, problem: str) -> Checker:
    """Return a prepared validator for `problem` (the domain is parsed once per process)."""
    return prepare(_parsed_domain(name), parse_problem(problem, filename=f"<{name} problem>"))


@functools.cache
def _parsed_domain(name: str) -> PDDLDomain:
    return parse_domain(DOMAINS.get(name).domain_pddl, filename=f"<{name} domain>")


class _Inline:
    """A stand-in for ProcessPoolExecutor that runs jobs in this process (jobs=1)."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        return [fn(item) for item in items]


def _executor(jobs: int) -> ProcessPoolExecutor | _Inline:
    return _Inline() if jobs <= 1 else ProcessPoolExecutor(max_workers=jobs)


def make_record(
    dom: Domain, draw: _Draw, answer: _Solved, seed: int, planner: PlannerConfig
) -> dict:
    """Return the manifest record of a solved draw (split is assigned later)."""
    task_id = f"{dom.name}-{draw.index:04d}"
    return {
        "id": task_id,
        "domain": dom.name,
        "file": f"problems/{task_id}.pddl",
        "params": draw.params,
        "difficulty": draw.level,
        "split": "pool",
        "reference_plan": list(answer.plan or ()),
        "reference_length": len(answer.plan or ()),
        "optimal": answer.optimal,
        "planner": f"{answer.method} ({planner.describe()})",
        "digest": hashlib.sha256(draw.problem.encode()).hexdigest(),
        "attempt": draw.attempt,
        "problem": draw.problem,
    }


def assign_split(records: list[dict], seed: int, heldout: float) -> None:
    """Mark round(heldout * n) of each difficulty level's n tasks "heldout", chosen by seed.

    Tasks are distinct problems, so no held-out problem is also a pool problem (the loop trains
    on pool tasks). A level too small to hold out a task is warned about once.
    """
    by_level: dict[int, list[dict]] = defaultdict(list)
    for record in records:
        by_level[record["difficulty"]].append(record)
    rng = random.Random(f"heldout:{seed}")
    for level in sorted(by_level):
        tasks = by_level[level]
        target = round(heldout * len(tasks))
        if heldout > 0 and target == 0:
            log.warning(
                "level %d has %d tasks: a held-out share of %g holds out none of them; use a "
                "larger pool or fewer levels", level, len(tasks), heldout,
            )  # fmt: skip
        for record in rng.sample(tasks, target):
            record["split"] = "heldout"


def write_pool(folder: Path, dom: Domain, records: list[dict], key: dict, stats: dict) -> None:
    """Write the pool files into `folder`, the completion marker last."""
    (folder / "domain.pddl").write_text(dom.domain_pddl)
    lines = []
    for record in records:
        (folder / record["file"]).write_text(record.pop("problem"))
        lines.append(json.dumps(record, sort_keys=True))
    manifest = "\n".join(lines) + "\n"
    (folder / MANIFEST).write_text(manifest)
    (folder / "build.json").write_text(json.dumps(stats, indent=1, sort_keys=True) + "\n")
    splits = Counter(record["split"] for record in records)
    marker = {
        "build": key,
        "tasks": len(records),
        "splits": dict(sorted(splits.items())),
        "manifest_digest": hashlib.sha256(manifest.encode()).hexdigest(),
    }
    (folder / MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n")


def load_pool(path: str | Path) -> list[Task]:
    """Return the tasks of the complete pool in folder `path`, checking every digest."""
    folder = Path(path)
    marker = folder / MARKER
    if not marker.is_file():
        raise StoreError(
            f"{folder} is not a complete task pool (no {MARKER}); build it with "
            "`iterdeploy tasks build --out " + str(folder) + " ...`"
        )
    expected = json.loads(marker.read_text())["manifest_digest"]
    manifest = (folder / MANIFEST).read_text()
    if hashlib.sha256(manifest.encode()).hexdigest() != expected:
        raise StoreError(f"{folder / MANIFEST} does not match {MARKER}; rebuild the pool")
    return [read_task(folder, json.loads(line)) for line in manifest.splitlines() if line]


def read_task(folder: Path, record: dict) -> Task:
    """Return the Task of one manifest record, with its problem text read and checked."""
    try:
        problem = (folder / record["file"]).read_text()
    except OSError as exc:
        raise StoreError(
            f"task {record['id']}: cannot read {folder / record['file']} ({exc.strerror}); "
            "rebuild the pool"
        ) from exc
    if hashlib.sha256(problem.encode()).hexdigest() != record["digest"]:
        raise StoreError(
            f"{folder / record['file']} was modified after the pool was built "
            f"(digest mismatch for task {record['id']}); rebuild the pool"
        )
    return Task(
        id=record["id"],
        domain=record["domain"],
        problem=problem,
        params=record["params"],
        difficulty=record["difficulty"],
        split=record["split"],
        reference_plan=tuple(record["reference_plan"]),
        reference_length=record["reference_length"],
        planner=record["planner"],
        digest=record["digest"],
        optimal=record["optimal"],
    )
