"""The loop's pure pieces: seeds, chunks, scoring traces, and per-generation summaries.

Nothing here touches the store or the run folder (that is `orchestrator.py`'s job), so each
piece is a plain function of its inputs. Scoring runs the validator and the counter-reward
checks on model outputs; it can run in a process pool because a `Validator` is rebuilt from
plain task data in each worker.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from statistics import fmean
from typing import TYPE_CHECKING, Any

from iterdeploy.curation.checks import CheckConfig, build_check, run_checks
from iterdeploy.records import StoredTrace

if TYPE_CHECKING:
    from iterdeploy.config import LoopConfig
    from iterdeploy.domains.base import Task
    from iterdeploy.generation.base import Trace
    from iterdeploy.sampling import SamplingParams
    from iterdeploy.training.result import TrainResult


def derive_seed(run_seed: int, *parts: object) -> int:
    """Return a 63-bit seed from the run seed and e.g. (run, generation, task_id).

    >>> derive_seed(0, 1, 2, "t") == derive_seed(0, 1, 2, "t") != derive_seed(0, 1, 3, "t")
    True
    """
    text = ":".join(map(str, ("iterdeploy-loop", run_seed, *parts)))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def chunked(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """Return `items` cut into consecutive chunks of `size` (the last may be shorter)."""
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True, slots=True)
class Shard:
    """One deterministic unit of generation: the same prompts and seeds on every attempt."""

    index: int  # the deployment chunk it belongs to (its done-marker in the store)
    prompts: tuple[str, ...]
    seeds: tuple[int, ...]  # one per prompt; sample j of prompt i uses sample_seed(seeds[i], j)
    params: SamplingParams
    adapter: str | None = None  # the generation's adapter directory; None for the base model


@dataclass(frozen=True, slots=True)
class Score:
    """What the validator and the counter-reward checks say about one answer, before it is tied
    to its (run, generation, task, sample): `stored_traces` puts it into a `StoredTrace`."""

    plan: tuple[str, ...]  # the extracted steps
    extraction: str  # the extraction rule that found the plan, or why none was found
    valid: bool
    reason: str  # a Reason value
    step: int | None  # 0-based failing step
    detail: str
    unsatisfied: tuple[str, ...]
    checks: dict[str, bool] = field(default_factory=dict)
    seconds: float = 0.0


class Validator:
    """Score outputs against their tasks; checkers are prepared once per task, lazily."""

    def __init__(
        self, tasks: Iterable[Task], domains: Mapping[str, str], checks: Sequence[CheckConfig]
    ) -> None:
        self.tasks = {t.id: t for t in tasks}
        self.domain_texts = dict(domains)
        self.check_configs = tuple(checks)
        self.checks = {c.name: build_check(c) for c in checks}
        self._domains: dict[str, Any] = {}
        self._checkers: dict[str, Any] = {}

    def score(self, task_id: str, answer: str) -> Score:
        """Return the `Score` of the answer part of a model output (`Trace.answer`, the text
        after its last `</think>`) for task `task_id`."""
        from iterdeploy.prompting.extract import check_answer

        start = time.perf_counter()
        task = self.tasks[task_id]
        checker = self._checker(task)
        extraction, verdict = check_answer(checker, answer)
        steps = tuple(extraction.steps)
        results = run_checks(self.checks, steps, task, checker)
        return Score(
            plan=steps,
            extraction=extraction.rule,
            valid=bool(verdict.valid),
            reason=str(getattr(verdict.reason, "value", verdict.reason)),
            step=verdict.step,
            detail=verdict.detail or "",
            unsatisfied=tuple(verdict.unsatisfied or ()),
            checks=results,
            seconds=time.perf_counter() - start,
        )

    def _checker(self, task: Task) -> Any:
        from iterdeploy.pddl.parser import parse_domain, parse_problem
        from iterdeploy.pddl.validate import prepare

        if task.id not in self._checkers:
            if task.domain not in self._domains:
                text = self.domain_texts[task.domain]
                self._domains[task.domain] = parse_domain(text, filename=f"<{task.domain}>")
            problem = parse_problem(task.problem, filename=f"<{task.id}>")
            self._checkers[task.id] = prepare(self._domains[task.domain], problem)
        return self._checkers[task.id]

    def __reduce__(self) -> tuple[Any, ...]:
        # Workers rebuild the checks (they may be lambdas) and checkers from plain data.
        return (Validator, (list(self.tasks.values()), self.domain_texts, self.check_configs))


_WORKER: Validator | None = None


def _init_worker(validator: Validator) -> None:
    global _WORKER
    _WORKER = validator


def _score_in_worker(job: tuple[str, str]) -> Score:
    assert _WORKER is not None, "validation worker used before its initializer ran"
    return _WORKER.score(*job)


@contextmanager
def scoring_pool(validator: Validator, workers: int) -> Iterator[Executor | None]:
    """Yield a process pool of `workers` scorers, or None to score in-process (workers <= 1)."""
    if workers <= 1:
        yield None
        return
    # spawn, not fork: the parent may hold torch's OpenMP threads, which do not survive a fork.
    with ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(validator,)
    ) as pool:
        yield pool


def score_outputs(
    validator: Validator, jobs: Sequence[tuple[str, str]], pool: Executor | None
) -> list[Score]:
    """Return the `Score` of each (task_id, answer) job, in order."""
    if pool is None:
        return [validator.score(task_id, answer) for task_id, answer in jobs]
    size = max(1, len(jobs) // 8)
    return list(pool.map(_score_in_worker, jobs, chunksize=size))


@dataclass(frozen=True, slots=True)
class GenerationSummary:
    """The per-generation numbers of summary.json and of the paper-style table."""

    run: int
    generation: int
    deployed: int  # the generation whose model sampled the pool (differs only when gated)
    pool_tasks: int
    pool_solved: int  # pool tasks with at least one valid trace
    heldout_tasks: int
    heldout_solved: int
    newly_solved: int  # pool tasks solved now and by no earlier generation of this run
    curated_size: int  # examples this generation's model was trained on (0 for the base)
    mean_plan_length: float | None  # over solved pool tasks, each by its shortest valid plan
    mean_reasoning_tokens: float | None  # over all pool traces
    valid_traces: int
    traces: int
    # Distinct problems (`domains.pool.content_key`): a pool level that ran out of new problems
    # holds copies of one problem, which count once here; a problem is solved when any of its
    # copies has a valid trace. None in summaries written before these fields existed.
    pool_problems: int | None = None
    pool_problems_solved: int | None = None
    heldout_problems: int | None = None
    heldout_problems_solved: int | None = None

    @property
    def has_duplicates(self) -> bool:
        """Return whether some task of this summary's pool is a copy of another."""
        return (self.pool_problems is not None and self.pool_problems < self.pool_tasks) or (
            self.heldout_problems is not None and self.heldout_problems < self.heldout_tasks
        )


def solved_tasks(traces: Iterable[Any], split_of: Callable[[Any], str]) -> dict[str, set[str]]:
    """Return, per split, the tasks with at least one valid trace among `traces` (anything
    with `task_id` and `valid`; `split_of(trace)` names its task's split).

    The one rule for "the tasks a generation solved"; `loop.store.Store.solved` asks the same
    of the stored traces, and a split without a solved task is left out.
    """
    out: dict[str, set[str]] = {}
    for t in traces:
        if t.valid:
            out.setdefault(split_of(t), set()).add(t.task_id)
    return out


def summarize_generation(
    run: int,
    generation: int,
    rows: Sequence[StoredTrace],
    tasks: Mapping[str, str],
    solved_before: set[str],
    curated_size: int,
    deployed: int,
    problems: Mapping[str, str],
) -> GenerationSummary:
    """Return the summary of one generation from its traces (`tasks`: task_id -> split;
    `problems`: task_id -> the content key of its problem); `deployed` is the generation whose
    model sampled its pool traces."""
    pool_rows = [r for r in rows if r.split == "pool"]
    solved = solved_tasks(rows, lambda r: "pool" if r.split == "pool" else "heldout")
    pool_solved, heldout_solved = solved.get("pool", set()), solved.get("heldout", set())
    shortest: dict[str, int] = {}  # pool task -> its shortest valid plan
    for r in pool_rows:
        if r.valid:
            shortest[r.task_id] = min(shortest.get(r.task_id, r.plan_length), r.plan_length)
    return GenerationSummary(
        run=run,
        generation=generation,
        deployed=deployed,
        pool_tasks=sum(1 for s in tasks.values() if s == "pool"),
        pool_solved=len(pool_solved),
        heldout_tasks=sum(1 for s in tasks.values() if s == "heldout"),
        heldout_solved=len(heldout_solved),
        newly_solved=len(pool_solved - solved_before),
        curated_size=curated_size,
        mean_plan_length=_mean(shortest.values()),
        mean_reasoning_tokens=_mean(r.reasoning_tokens for r in pool_rows),
        valid_traces=sum(1 for r in pool_rows if r.valid),
        traces=len(pool_rows),
        pool_problems=len({problems[t] for t, s in tasks.items() if s == "pool"}),
        pool_problems_solved=len({problems[t] for t in pool_solved}),
        heldout_problems=len({problems[t] for t, s in tasks.items() if s == "heldout"}),
        heldout_problems_solved=len({problems[t] for t in heldout_solved}),
    )


def format_table(summaries: Sequence[GenerationSummary]) -> str:
    """Return a paper-style table: one line per generation, means over runs.

    Solved counts are tasks, then distinct problems in parentheses; when copies of one problem
    are in the pool, a note under the table says how many tasks and problems there are.
    """
    by_gen: dict[int, list[GenerationSummary]] = {}
    for s in summaries:
        by_gen.setdefault(s.generation, []).append(s)
    row = "{:>3}  {:>22}  {:>26}  {:>6}  {:>7}  {:>8}  {:>9}"
    head = (
        "gen",
        "pool solved (problems)",
        "held-out solved (problems)",
        "new",
        "curated",
        "plan len",
        "reas. tok",
    )
    lines = [row.format(*head)]
    for gen, group in sorted(by_gen.items()):
        lines.append(
            row.format(
                gen,
                _solved_cell(
                    [s.pool_solved for s in group],
                    group[0].pool_tasks,
                    [s.pool_problems_solved for s in group],
                    group[0].pool_problems,
                ),
                _solved_cell(
                    [s.heldout_solved for s in group],
                    group[0].heldout_tasks,
                    [s.heldout_problems_solved for s in group],
                    group[0].heldout_problems,
                ),
                _fmt(fmean(s.newly_solved for s in group)),
                _fmt(fmean(s.curated_size for s in group)),
                _fmt(_mean(s.mean_plan_length for s in group)),
                _fmt(_mean(s.mean_reasoning_tokens for s in group)),
            )
        )
    duplicated = next((s for s in summaries if s.has_duplicates), None)
    if duplicated is not None:
        lines.append(
            f"note: {duplicated.pool_tasks} pool tasks hold {duplicated.pool_problems} distinct"
            f" problems, {duplicated.heldout_tasks} held-out tasks"
            f" {duplicated.heldout_problems}; (x/y) counts problems"
        )
    return "\n".join(lines)


def _solved_cell(
    solved: list[int], tasks: int, problems_solved: list[int | None], problems: int | None
) -> str:
    """Return "solved/tasks (solved/problems)", solved counts as means over runs."""
    cell = f"{_fmt(fmean(solved))}/{tasks}"
    if problems is None or None in problems_solved:
        return cell  # a summary.json written before problems were counted
    return f"{cell} ({_fmt(fmean(problems_solved))}/{problems})"


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return fmean(kept) if kept else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


# ---- deployment chunks and the rows the store keeps ------------------------------------------


@dataclass(frozen=True, slots=True)
class Chunk:
    """A fixed slice of one generation's deployment: the same tasks on every resume."""

    run: int
    generation: int
    split: str  # "pool" | "heldout"
    tasks: list[Task]
    params: SamplingParams
    seeds: list[int]


def plan_chunks(
    tasks: Sequence[Task], loop: LoopConfig, sampling: SamplingParams, run: int, generation: int
) -> list[Chunk]:
    """Return the deployment chunks: pool then held-out tasks, in task-id order."""
    heldout = replace(sampling, n=loop.heldout_samples)
    out = []
    for split, params in (("pool", sampling), ("heldout", heldout)):
        chosen = sorted((t for t in tasks if t.split == split), key=lambda t: t.id)
        for part in chunked(chosen, loop.chunk_tasks):
            seeds = [derive_seed(loop.seed, run, generation, t.id) for t in part]
            out.append(Chunk(run, generation, split, list(part), params, seeds))
    return out


def stored_traces(
    chunk: Chunk,
    prompt_digests: Sequence[str],
    traces: Sequence[Sequence[Trace]],
    scores: Sequence[Score],
) -> list[StoredTrace]:
    """Return the stored traces of a generated and scored chunk (`scores` in trace order).

    `gen_seconds` is `Trace.seconds`, the trace's share of its batch's wall time.
    """
    it = iter(scores)
    out = []
    for task, seed, digest, samples in zip(
        chunk.tasks, chunk.seeds, prompt_digests, traces, strict=True
    ):
        for j, tr in enumerate(samples):
            s = next(it)
            out.append(StoredTrace(
                run=chunk.run, generation=chunk.generation, task_id=task.id, sample=j,
                split=chunk.split, valid=s.valid, plan=s.plan,
                reasoning_tokens=tr.reasoning_tokens, truncated=tr.truncated, reason=s.reason,
                checks=s.checks, text=tr.text, seed=seed, prompt_digest=digest,
                output_tokens=tr.output_tokens, extraction=s.extraction, step=s.step,
                detail=s.detail, unsatisfied=s.unsatisfied, gen_seconds=tr.seconds,
                val_seconds=s.seconds,
            ))  # fmt: skip
    return out


def base_model_row(
    run: int, generation: int, base: str, dataset: str | None, seconds: float
) -> dict[str, Any]:
    """Return the `models` row of an untrained generation: the base model itself."""
    return {
        "run": run, "generation": generation, "base": base, "kind": "base",
        "adapter_path": None, "adapter_digest": None, "dataset_digest": dataset,
        "train_config": "{}", "losses": "[]", "eval_losses": "[]", "wall_seconds": seconds,
    }  # fmt: skip


def trained_model_row(
    run: int,
    generation: int,
    base: str,
    result: TrainResult,
    adapter_path: str,
    dataset: str,
    train_config: str,
) -> dict[str, Any]:
    """Return the `models` row of a fine-tuned generation (`adapter_path` relative to the run
    folder, `train_config` the JSON of the `TrainConfig` it was trained with)."""
    return {
        "run": run, "generation": generation, "base": base, "kind": result.kind,
        "adapter_path": adapter_path, "adapter_digest": result.digest,
        "dataset_digest": dataset, "train_config": train_config,
        "losses": json.dumps(list(result.losses)),
        "eval_losses": json.dumps(list(result.eval_losses)),
        "wall_seconds": result.wall_seconds,
    }  # fmt: skip


def task_row(task: Task, prompt: str, prompt_digest: str) -> dict[str, Any]:
    """Return the `tasks` row of `task` with its prompt."""
    return {
        "task_id": task.id, "domain": task.domain, "split": task.split,
        "difficulty": str(task.difficulty),
        "params": json.dumps(task.params, sort_keys=True, default=str),
        "problem": task.problem, "reference_plan": json.dumps(list(task.reference_plan)),
        "reference_length": task.reference_length, "digest": task.digest,
        "prompt": prompt, "prompt_digest": prompt_digest,
    }  # fmt: skip


def summary_line(s: GenerationSummary) -> str:
    """Return the one-line log summary of a generation."""
    plan = "-" if s.mean_plan_length is None else f"{s.mean_plan_length:.1f}"
    tokens = "-" if s.mean_reasoning_tokens is None else f"{s.mean_reasoning_tokens:.0f}"
    by = "" if s.deployed == s.generation else f" (pool sampled by gen {s.deployed})"
    return (
        f"run {s.run} gen {s.generation}{by}: pool {s.pool_solved}/{s.pool_tasks} solved "
        f"(+{s.newly_solved} new; problems {s.pool_problems_solved}/{s.pool_problems}), "
        f"held-out {s.heldout_solved}/{s.heldout_tasks} "
        f"(problems {s.heldout_problems_solved}/{s.heldout_problems}), "
        f"curated {s.curated_size}, plan length {plan}, reasoning tokens {tokens}"
    )
