"""The loop's imperative shell: runs x generations of deploy -> evaluate -> curate -> train.

With loop.deploy = "gated", generation n >= 1 deploys in three stages: the new model n on the
held-out tasks, the release gate (model n against the deployed generation, on those held-out
traces), then the pool with whichever model the gate left deployed.

Every stage checks its done-marker first, and writes its outputs together with the marker in
one transaction, so `resume_run` after a kill -9 redoes only the unfinished stage (or, for a
deployment, only the unfinished chunks). Seeds derive from (loop seed, run, generation, task),
so the resumed work is the work an uninterrupted run would have done. This module alone
touches the store and the run folder:

    runs/<run_id>/store.sqlite        the store (schema in loop/store.py, docs/loop.md)
    runs/<run_id>/config.toml         the resolved config; a resume must match it
    runs/<run_id>/datasets/r<run>/g<gen>.jsonl   curated sets, TRL prompt/completion rows
    runs/<run_id>/adapters/r<run>/g<gen>/        what `train` wrote for generation <gen>
    runs/<run_id>/summary.json        per run and generation numbers, once the run finished
    runs/<run_id>/tracking/, tracking.json   tracker files ([tracking]) and what each received
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import random
import secrets
import shutil
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iterdeploy.config import (
    RunConfig,
    config_digest,
    from_dict,
    read_toml,
    to_dict,
    to_toml,
)
from iterdeploy.curation.policies import ScoredTrace, curate, resolve_policy
from iterdeploy.errors import StoreError
from iterdeploy.generation.base import SamplingParams
from iterdeploy.loop.executors import Executor, Shard, open_executor
from iterdeploy.loop.gate import compare, deployed
from iterdeploy.loop.setup import check_run
from iterdeploy.loop.stages import (
    GenerationSummary,
    TraceRow,
    Validator,
    chunked,
    derive_seed,
    summarize_generation,
)
from iterdeploy.loop.store import (
    SCHEMA_VERSION,
    Store,
    add_dataset,
    add_deployment,
    add_event,
    add_gate_decision,
    add_model,
    add_run,
    finish_run,
    insert,
    mark_done,
    now,
)
from iterdeploy.tracking.progress import Progress
from iterdeploy.tracking.session import GenerationRecord, Tracking, open_tracking

if TYPE_CHECKING:
    from iterdeploy.domains.base import Task
    from iterdeploy.generation.base import Trace

log = logging.getLogger(__name__)


def new_run_id() -> str:
    """Return a run id: the UTC time plus a random suffix, e.g. 20260101-120000-3fa9c1."""
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def start_run(config: RunConfig, run_dir: str | Path | None = None) -> Path:
    """Create a run folder for `config`, run every stage, and return the folder.

    Every name and parameter is checked first (`loop.setup.check_run`), before the folder exists.
    """
    check_run(config)
    folder = Path(run_dir) if run_dir is not None else Path(config.loop.out_dir) / new_run_id()
    if (folder / Store.FILENAME).exists():
        raise StoreError(
            f"{folder} already holds a run; resume it with `iterdeploy resume {folder}` "
            "or choose another folder"
        )
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(folder / "config.toml", to_toml(config))
    with Store(folder / Store.FILENAME, create=True) as store:
        _init_meta(store, config, folder)
    return resume_run(folder)


def resume_run(run_dir: str | Path) -> Path:
    """Continue the run in `run_dir` where it stopped (a no-op for a finished run)."""
    folder = Path(run_dir)
    config = load_run_config(folder)
    with Store(folder / Store.FILENAME) as store:
        if store.get_meta("config_digest") is None:  # killed before its first transaction
            _init_meta(store, config, folder)
        if store.get_meta("config_digest") != config_digest(config):
            raise StoreError(
                f"{folder}/config.toml no longer matches the config the run started with "
                f"(digest {store.get_meta('config_digest')}); restore it or start a new run"
            )
        run_id = store.get_meta("run_id") or folder.name
        with open_tracking(config.tracking, folder, run_id, to_dict(config)) as tracking:
            Loop(config, folder, store, tracking).execute()
    return folder


def _init_meta(store: Store, config: RunConfig, folder: Path) -> None:
    meta = {
        "schema_version": SCHEMA_VERSION,
        "config_digest": config_digest(config),
        "run_id": folder.name,
        "created_at": now(),
    }
    with store.transaction() as db:
        db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
        add_event(db, "run-created", None, None, folder=str(folder))


def load_run_config(folder: Path) -> RunConfig:
    """Return the resolved config stored in a run folder."""
    path = folder / "config.toml"
    if not path.is_file():
        raise StoreError(f"{folder} is not a run folder (no config.toml); check the path")
    return from_dict(RunConfig, read_toml(path))


class Loop:
    """One run folder's stages, executed in order and skipped when already done."""

    def __init__(
        self, config: RunConfig, folder: Path, store: Store, tracking: Tracking | None = None
    ) -> None:
        self.config = config
        self.folder = folder
        self.store = store
        self.tracking = tracking  # trackers fed after each evaluated generation ([tracking])
        self.tasks: list[Task] = []
        self.problems: dict[str, str] = {}  # task_id -> content key: copies share a key
        self.prompts: dict[str, str] = {}
        self.base = ""

    def execute(self) -> list[GenerationSummary]:
        """Run every unfinished stage, write summary.json, and return the summaries."""
        from iterdeploy.domains.pool import content_key
        from iterdeploy.loop.setup import load_tasks, resolve_base

        self.tasks = load_tasks(self.config)
        self.problems = {t.id: content_key(t.problem) for t in self.tasks}
        self.base = resolve_base(self.config)
        self._register_tasks()
        cfg = self.config.loop
        for run in range(cfg.runs):
            self._start(run)
            for generation in range(cfg.generations + 1):
                if cfg.deploy == "gated" and generation > 0:
                    self.deploy(run, generation, "heldout")  # the candidate, model `generation`
                    self.gate(run, generation)
                    self.deploy(run, generation, "pool")  # the model the gate left deployed
                else:
                    self.deploy(run, generation)
                self.evaluate(run, generation)
                self._track(run, generation)
                if generation < cfg.generations:
                    self.curate(run, generation + 1)
                    self.train(run, generation + 1)
            self._finish(run)
        summaries = self.summaries()
        write_summary(self.folder, summaries, self.store.get_meta("run_id") or self.folder.name)
        return summaries

    # ---- set-up ---------------------------------------------------------------------------

    def _register_tasks(self) -> None:
        from iterdeploy.loop.setup import prompt_for

        self.prompts = {t.id: prompt_for(self.config, t) for t in self.tasks}
        stored = self.store.prompt_digests()
        rows = []
        for t in self.tasks:
            digest = _sha(self.prompts[t.id])
            if t.id in stored:
                if stored[t.id] != digest:
                    raise StoreError(
                        f"task {t.id!r}: its prompt differs from the stored one; the pool or "
                        "the template changed since the run started. Start a new run."
                    )
                continue
            rows.append({
                "task_id": t.id, "domain": t.domain, "split": t.split,
                "difficulty": str(t.difficulty),
                "params": json.dumps(t.params, sort_keys=True, default=str),
                "problem": t.problem, "reference_plan": json.dumps(list(t.reference_plan)),
                "reference_length": t.reference_length, "digest": t.digest,
                "prompt": self.prompts[t.id], "prompt_digest": digest,
            })  # fmt: skip
        if len(stored) + len(rows) != len(self.tasks):
            raise StoreError(f"{self.folder}: the stored tasks are not this config's pool")
        with self.store.transaction() as db:
            insert(db, "tasks", rows)

    def _start(self, run: int) -> None:
        if self.store.has_run(run):
            return
        with self.store.transaction() as db:
            seed = derive_seed(self.config.loop.seed, run)
            add_run(db, run, seed)
            add_model(db, _base_model(run, 0, self.base, None, 0))
            add_event(db, "run-started", run, None, seed=seed)

    def _finish(self, run: int) -> None:
        with self.store.transaction() as db:
            finish_run(db, run)

    # ---- stages ---------------------------------------------------------------------------

    def deploy(self, run: int, generation: int, split: str | None = None) -> None:
        """Sample, validate and store the traces of every task (of `split` if given), one
        committed chunk at a time. Held-out tasks are sampled from model `generation`, pool
        tasks from the model `_pool_model` names (the same one unless loop.deploy = "gated").
        """
        from iterdeploy.loop.setup import domain_texts, make_backend, validator_identity

        plan = self._chunks(run, generation)
        todo = [
            (i, chunk)
            for i, chunk in enumerate(plan)
            if split in (None, chunk.split) and not self.store.is_done(run, generation, "deploy", i)
        ]
        if not todo:
            return
        self._record_generation(run, generation, validator_identity())
        model = generation if split == "heldout" else self._pool_model(run, generation)
        adapter = self._model_path(run, model)
        validator = Validator(self.tasks, domain_texts(self.tasks), self.config.curation.checks)
        total = sum(len(c.tasks) * c.params.n for _, c in todo)
        # A bar on a terminal; under CI/nohup/Slurm a line with rate and ETA every 10 s.
        bar = Progress(total, f"run {run} gen {generation} deploy" + (f" {split}" if split else ""),
                       "trace")  # fmt: skip
        # The executor generates and validates (here or on a Ray cluster); only this process
        # writes the store, one chunk per transaction, in whatever order chunks finish.
        loop, model = self.config.loop, self.config.model
        factory = functools.partial(make_backend, self.config, self.base, self.tasks, self.prompts)
        shards = [Shard(i, tuple(self.prompts[t.id] for t in c.tasks), tuple(c.seeds), c.params,
                        adapter) for i, c in todo]  # fmt: skip
        vllm = (self.base, dict(model.backend_options)) if model.backend == "vllm" else None
        with open_executor(loop.executor, factory, validator,
                           validation_workers=loop.validation_workers,
                           ray_address=loop.ray_address or None, ray_workers=loop.ray_workers,
                           vllm=vllm) as executor:  # fmt: skip
            for shard, traces in executor.generate(shards):
                rows = self._deploy_chunk(executor, plan[shard.index], traces)
                with self.store.transaction() as db:
                    insert(db, "traces", rows)
                    mark_done(db, run, generation, "deploy", shard.index)
                bar.update(len(rows))
        bar.close()

    def gate(self, run: int, generation: int) -> None:
        """Gate model `generation` against the deployed one on its held-out traces; record
        which generation is deployed now (and samples this generation's pool) and why."""
        if self.store.is_done(run, generation, "gate"):
            return
        # The store's pointer: the loop's last release, or a promote/rollback made meanwhile.
        current = deployed(self.store, run) or 0
        decision = compare(self.store, run, generation, current, self.config.gate)
        now_deployed = generation if decision.passed else current
        reason = f"loop gate: {decision.summary()}"
        if not decision.passed:
            reason += f"; generation {current} stays deployed"
        with self.store.transaction() as db:
            add_deployment(db, run, now_deployed, "deploy", reason)
            add_gate_decision(db, run, generation, current, decision.passed, decision.solve_rate,
                              decision.reference_rate, decision.reasons, now_deployed)  # fmt: skip
            add_event(
                db,
                "gate",
                run,
                generation,
                deployed=now_deployed,
                reference=current,
                passed=decision.passed,
                solve_rate=decision.solve_rate,
                reference_rate=decision.reference_rate,
                reasons=list(decision.reasons),
            )
            mark_done(db, run, generation, "gate")
        log.info("%s", reason)

    def evaluate(self, run: int, generation: int) -> None:
        """Log the generation's summary line; with loop.deploy = "newest" (and for the base
        model) record the generation as the deployed one (otherwise `gate` did)."""
        if self.store.is_done(run, generation, "evaluate"):
            return
        summary = self._summary(run, generation, self._solved_before(run, generation))
        with self.store.transaction() as db:
            if self.config.loop.deploy == "newest" or generation == 0:
                add_deployment(
                    db,
                    run,
                    generation,
                    "deploy",
                    "loop: generation deployed on the pool" if generation else "loop: base model",
                )
            add_event(
                db, "generation-evaluated", run, generation, summary=dataclasses.asdict(summary)
            )
            mark_done(db, run, generation, "evaluate")
        log.info("%s", summary_line(summary))

    def curate(self, run: int, generation: int) -> None:
        """Curate the traces of generations 0..generation-1 into dataset `generation`."""
        if self.store.is_done(run, generation, "curate"):
            return
        cur = self.config.curation
        scored = self._scored_traces(run, generation - 1)
        rng = random.Random(derive_seed(self.config.loop.seed, run, generation, "curate"))
        examples = curate(
            resolve_policy(cur.policy), scored, rng, require=cur.require, params=cur.params
        )
        relative = Path("datasets") / f"r{run}" / f"g{generation}.jsonl"
        text = "".join(
            json.dumps({"prompt": e.prompt, "completion": e.completion}) + "\n" for e in examples
        )
        _write_atomic(self.folder / relative, text)
        digest = _sha(text)
        dataset = {
            "run": run, "generation": generation, "policy": cur.policy,
            "params": json.dumps(cur.params, sort_keys=True),
            "require": json.dumps(list(cur.require)), "digest": digest, "size": len(examples),
            "path": relative.as_posix(),
        }  # fmt: skip
        with self.store.transaction() as db:
            add_dataset(db, dataset, [(e.task_id, e.generation, e.sample) for e in examples])
            add_event(db, "dataset-curated", run, generation, size=len(examples), digest=digest)
            mark_done(db, run, generation, "curate")
        log.info(
            "run %d gen %d: curated %d examples (%s)", run, generation, len(examples), cur.policy
        )

    def train(self, run: int, generation: int) -> None:
        """Fine-tune the BASE model on dataset `generation`; record the adapter."""
        if self.store.is_done(run, generation, "train"):
            return
        row = self.store.dataset(run, generation)
        examples = [
            json.loads(line)
            for line in (self.folder / row["path"]).read_text(encoding="utf-8").splitlines()
        ]
        if _sha("".join(json.dumps(e) + "\n" for e in examples)) != row["digest"]:
            raise StoreError(
                f"{self.folder / row['path']} was modified after curation; "
                "restore it or start a new run"
            )
        if examples:
            model = self._train_adapter(run, generation, examples, row["digest"])
        else:
            model = self._model_row_untrained(run, generation, row["digest"])
        with self.store.transaction() as db:
            add_model(db, model)
            add_event(db, "model-trained", run, generation, model=model["kind"],
                      examples=len(examples))  # fmt: skip
            mark_done(db, run, generation, "train")

    def _track(self, run: int, generation: int) -> None:
        """Send the generation's summary, its model's losses and curated set to the trackers
        (each at most once per run folder: the ledger skips what a killed attempt sent)."""
        if self.tracking is None:
            return
        summary = self.store.last_event(run, generation, "generation-evaluated")["summary"]
        model = self.store.model(run, generation)
        dataset = self.store.dataset(run, generation)
        numbers = {k: float(v) for k, v in summary.items()
                   if k not in ("run", "generation") and isinstance(v, (int, float))}  # fmt: skip
        self.tracking.log_generation(
            GenerationRecord(
                run, generation, numbers,
                tuple(map(tuple, json.loads(model["losses"]))),
                tuple(map(tuple, json.loads(model["eval_losses"]))),
                self.folder / dataset["path"] if dataset else None,
                dataset["digest"] if dataset else "",
            )
        )  # fmt: skip

    # ---- helpers ---------------------------------------------------------------------------

    def _chunks(self, run: int, generation: int) -> list[Chunk]:
        """Return the deployment chunks: pool then held-out tasks, in task-id order."""
        sampling: SamplingParams = self.config.generation
        heldout = dataclasses.replace(sampling, n=self.config.loop.heldout_samples)
        out = []
        for split, params in (("pool", sampling), ("heldout", heldout)):
            tasks = sorted((t for t in self.tasks if t.split == split), key=lambda t: t.id)
            for part in chunked(tasks, self.config.loop.chunk_tasks):
                seeds = [derive_seed(self.config.loop.seed, run, generation, t.id) for t in part]
                out.append(Chunk(run, generation, split, list(part), params, seeds))
        return out

    def _deploy_chunk(
        self, executor: Executor, chunk: Chunk, traces: list[list[Trace]]
    ) -> list[dict[str, Any]]:
        prompts = [self.prompts[t.id] for t in chunk.tasks]
        jobs = [(t.id, tr.text) for t, row in zip(chunk.tasks, traces, strict=True) for tr in row]
        scores = iter(executor.validate(jobs))
        rows = []
        for task, seed, prompt, samples in zip(
            chunk.tasks, chunk.seeds, prompts, traces, strict=True
        ):
            for j, tr in enumerate(samples):
                s = next(scores)
                rows.append({
                    "run": chunk.run, "generation": chunk.generation, "task_id": task.id,
                    "sample": j, "seed": seed, "prompt_digest": _sha(prompt), "text": tr.text,
                    "reasoning_tokens": tr.reasoning_tokens, "output_tokens": tr.output_tokens,
                    "truncated": int(tr.truncated), "plan": json.dumps(list(s.plan)),
                    "plan_length": len(s.plan), "extraction": s.extraction,
                    "valid": int(s.valid), "reason": s.reason, "step": s.step,
                    "detail": s.detail, "unsatisfied": json.dumps(list(s.unsatisfied)),
                    "checks": json.dumps(s.checks, sort_keys=True),
                    "gen_seconds": tr.seconds / max(1, len(jobs)), "val_seconds": s.seconds,
                })  # fmt: skip
        return rows

    def _record_generation(self, run: int, generation: int, validator: tuple[str, str]) -> None:
        row = {
            "run": run, "generation": generation,
            "sampling": json.dumps(to_dict(self.config.generation), sort_keys=True),
            "heldout_samples": self.config.loop.heldout_samples, "validator": validator[0],
            "validator_version": validator[1], "started_at": now(),
        }  # fmt: skip
        with self.store.transaction() as db:
            insert(db, "generations", [row], verb="INSERT OR IGNORE")

    def _pool_model(self, run: int, generation: int) -> int:
        """Return the generation whose model samples the pool tasks of `generation`."""
        if self.config.loop.deploy == "newest" or generation == 0:
            return generation
        decision = self.store.gate_decisions().get((run, generation))
        if decision is None:
            raise StoreError(
                f"run {run} generation {generation} has no gate decision; the store is "
                "inconsistent (was it edited?)"
            )
        return int(decision["deployed"])

    def _model_path(self, run: int, generation: int) -> str | None:
        row = self.store.model(run, generation)
        if row is None:
            raise StoreError(
                f"run {run} generation {generation} has no model; the store is "
                "inconsistent (was it edited?)"
            )
        path = row["adapter_path"]
        return None if path is None else str(self.folder / path)

    def _model_row_untrained(self, run: int, generation: int, dataset: str) -> dict[str, Any]:
        log.warning(
            "run %d gen %d: the curated set is empty; generation %d is the base model",
            run,
            generation,
            generation,
        )
        return _base_model(run, generation, self.base, dataset, 0.0)

    def _train_adapter(
        self, run: int, generation: int, examples: list[dict[str, str]], dataset: str
    ) -> dict[str, Any]:
        from iterdeploy.training.sft import train

        out = self.folder / "adapters" / f"r{run}" / f"g{generation}"
        shutil.rmtree(out, ignore_errors=True)  # a killed attempt may have left files
        seed = derive_seed(self.config.loop.seed, run, generation, "train") % 2**31
        config = dataclasses.replace(self.config.training, seed=seed)
        log.info("run %d gen %d: training on %d examples", run, generation, len(examples))
        result = train(self.base, examples, config, out)
        path = Path(result.path).resolve().relative_to(self.folder.resolve())
        return {
            "run": run, "generation": generation, "base": self.base, "kind": result.kind,
            "adapter_path": path.as_posix(), "adapter_digest": result.digest,
            "dataset_digest": dataset, "train_config": json.dumps(to_dict(config), sort_keys=True),
            "losses": json.dumps(list(result.losses)),
            "eval_losses": json.dumps(list(result.eval_losses)),
            "wall_seconds": result.wall_seconds,
        }  # fmt: skip

    def _scored_traces(self, run: int, last: int) -> list[ScoredTrace]:
        rows = self.store.traces_with_tasks(run, (0, last))
        return [
            ScoredTrace(
                run=r["run"],
                generation=r["generation"],
                task_id=r["task_id"],
                sample=r["sample"],
                split=r["split"],
                prompt=r["prompt"],
                completion=r["text"],
                valid=bool(r["valid"]),
                plan_length=r["plan_length"],
                reasoning_tokens=r["reasoning_tokens"],
                truncated=bool(r["truncated"]),
                checks=json.loads(r["checks"]),
            )
            for r in rows
        ]

    def _solved_before(self, run: int, generation: int) -> set[str]:
        return set().union(*(self.store.solved(run, g) for g in range(generation)))

    def _summary(self, run: int, generation: int, solved_before: set[str]) -> GenerationSummary:
        rows = self.store.traces_with_tasks(run, (generation, generation))
        dataset = self.store.dataset(run, generation)
        return summarize_generation(
            run,
            generation,
            [
                TraceRow(
                    r["task_id"],
                    r["split"],
                    bool(r["valid"]),
                    r["plan_length"],
                    r["reasoning_tokens"],
                )
                for r in rows
            ],
            {t.id: t.split for t in self.tasks},
            solved_before,
            dataset["size"] if dataset else 0,
            self._pool_model(run, generation),
            self.problems,
        )

    def summaries(self) -> list[GenerationSummary]:
        """Return the summary of every evaluated generation, by run then generation."""
        out = []
        for run in range(self.config.loop.runs):
            solved: set[str] = set()
            for generation in range(self.config.loop.generations + 1):
                if not self.store.is_done(run, generation, "evaluate"):
                    break
                summary = self._summary(run, generation, solved)
                solved |= self._solved_before(run, generation + 1)
                out.append(summary)
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class Chunk:
    """A fixed slice of one generation's deployment: the same tasks on every resume."""

    run: int
    generation: int
    split: str  # "pool" | "heldout"
    tasks: list[Task]
    params: SamplingParams
    seeds: list[int]


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


def write_summary(folder: Path, summaries: Sequence[GenerationSummary], run_id: str) -> Path:
    """Write summary.json (per run and generation) and return its path."""
    runs: dict[int, list[dict[str, Any]]] = {}
    for s in summaries:
        runs.setdefault(s.run, []).append(dataclasses.asdict(s))
    data = {
        "run_id": run_id,
        "runs": [{"run": run, "generations": gens} for run, gens in sorted(runs.items())],
    }
    path = folder / "summary.json"
    _write_atomic(path, json.dumps(data, indent=2) + "\n")
    return path


def read_summaries(folder: str | Path) -> list[GenerationSummary]:
    """Return the summaries of a finished run folder (from summary.json)."""
    path = Path(folder) / "summary.json"
    if not path.is_file():
        raise StoreError(f"{path} does not exist: the run has not finished; resume it first")
    data = json.loads(path.read_text(encoding="utf-8"))
    # A summary.json from before the problem counts loads with them None (their defaults).
    return [GenerationSummary(**g) for r in data["runs"] for g in r["generations"]]


def _base_model(
    run: int, generation: int, base: str, dataset: str | None, seconds: float
) -> dict[str, Any]:
    """Return the `models` row of an untrained generation: the base model itself."""
    return {
        "run": run, "generation": generation, "base": base, "kind": "base",
        "adapter_path": None, "adapter_digest": None, "dataset_digest": dataset,
        "train_config": "{}", "losses": "[]", "eval_losses": "[]", "wall_seconds": seconds,
    }  # fmt: skip


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
