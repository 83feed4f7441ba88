"""The loop's imperative shell: runs x generations of deploy -> evaluate -> curate -> train.

With loop.deploy = "gated", generation n >= 1 deploys in three stages: the new model n on the
held-out tasks, the release gate (model n against the deployed generation, on those held-out
traces), then the pool with whichever model the gate left deployed.

Every stage checks its done-marker first, and writes its outputs together with the marker in
one transaction, so `resume_run` after a kill -9 redoes only the unfinished stage (or, for a
deployment, only the unfinished chunks). Seeds derive from (loop seed, run, generation, task),
so the resumed work is the work an uninterrupted run would have done. This module drives the
stages; it writes the store through `loop.store` and the run folder's files through
`loop.runfolder`, and takes its pure pieces (chunks, rows, summaries) from `loop.stages`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import random
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iterdeploy.config import (
    RunConfig,
    config_digest,
    to_dict,
    to_toml,
)
from iterdeploy.curation.policies import curate, resolve_policy
from iterdeploy.errors import StoreError
from iterdeploy.loop.executors import Shard, open_executor
from iterdeploy.loop.gate import compare, deployed
from iterdeploy.loop.runfolder import (
    load_run_config,
    new_run_id,
    read_dataset,
    read_summaries,
    sha,
    write_atomic,
    write_dataset,
    write_summary,
)
from iterdeploy.loop.setup import check_run
from iterdeploy.loop.stages import (
    Chunk,
    GenerationSummary,
    Validator,
    base_model_row,
    derive_seed,
    plan_chunks,
    stored_traces,
    summary_line,
    task_row,
    trained_model_row,
)
from iterdeploy.loop.store import (
    SCHEMA_VERSION,
    Store,
    add_dataset,
    add_deployment,
    add_event,
    add_gate_decision,
    add_generation,
    add_meta,
    add_model,
    add_run,
    add_traces,
    finish_run,
    insert,
    mark_done,
    now,
)
from iterdeploy.loop.view import RunView
from iterdeploy.tracking.progress import Progress
from iterdeploy.tracking.session import Tracking, open_tracking

if TYPE_CHECKING:
    from iterdeploy.domains.base import Task

# Re-exported: the loop's public entry points and the run folder's summaries.
__all__ = ["Loop", "load_run_config", "new_run_id", "read_summaries", "resume_run", "start_run",
           "summary_line", "write_summary"]  # fmt: skip

log = logging.getLogger(__name__)


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
    write_atomic(folder / "config.toml", to_toml(config))
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
        add_meta(db, meta)
        add_event(db, "run-created", None, None, folder=str(folder))


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
        self.view = RunView(config, folder, store, self.tasks, self.problems)  # reset by execute

    def execute(self) -> list[GenerationSummary]:
        """Run every unfinished stage, write summary.json, and return the summaries."""
        from iterdeploy.domains.pool import content_key
        from iterdeploy.loop.setup import load_tasks, resolve_base

        self.tasks = load_tasks(self.config)
        self.problems = {t.id: content_key(t.problem) for t in self.tasks}
        self.base = resolve_base(self.config)
        self.view = RunView(self.config, self.folder, self.store, self.tasks, self.problems)
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
                if self.tracking is not None:
                    self.tracking.log_generation(self.view.generation_record(run, generation))
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
            digest = sha(self.prompts[t.id])
            if t.id in stored:
                if stored[t.id] != digest:
                    raise StoreError(
                        f"task {t.id!r}: its prompt differs from the stored one; the pool or "
                        "the template changed since the run started. Start a new run."
                    )
                continue
            rows.append(task_row(t, self.prompts[t.id], digest))
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
            add_model(db, base_model_row(run, 0, self.base, None, 0))
            add_event(db, "run-started", run, None, seed=seed)

    def _finish(self, run: int) -> None:
        with self.store.transaction() as db:
            finish_run(db, run)

    # ---- stages ---------------------------------------------------------------------------

    def deploy(self, run: int, generation: int, split: str | None = None) -> None:
        """Sample, validate and store the traces of every task (of `split` if given), one
        committed chunk at a time. Held-out tasks are sampled from model `generation`, pool
        tasks from the model `RunView.pool_model` names (the same unless loop.deploy = "gated").
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
        model = generation if split == "heldout" else self.view.pool_model(run, generation)
        adapter = self.view.model_path(run, model)
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
                chunk = plan[shard.index]
                jobs = [(t.id, tr.answer) for t, row in zip(chunk.tasks, traces, strict=True)
                        for tr in row]  # fmt: skip
                digests = [sha(self.prompts[t.id]) for t in chunk.tasks]
                stored = stored_traces(chunk, digests, traces, executor.validate(jobs))
                with self.store.transaction() as db:
                    add_traces(db, stored)
                    mark_done(db, run, generation, "deploy", shard.index)
                bar.update(len(stored))
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
        summary = self.view.summary(run, generation, self.view.solved_before(run, generation))
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
        scored = self.view.curation_traces(run, generation - 1)
        rng = random.Random(derive_seed(self.config.loop.seed, run, generation, "curate"))
        examples = curate(
            resolve_policy(cur.policy), scored, rng, require=cur.require, params=cur.params
        )
        rows = [{"prompt": e.prompt, "completion": e.completion} for e in examples]
        path, digest = write_dataset(self.folder, run, generation, rows)
        dataset = {
            "run": run, "generation": generation, "policy": cur.policy,
            "params": json.dumps(cur.params, sort_keys=True),
            "require": json.dumps(list(cur.require)), "digest": digest, "size": len(examples),
            "path": path,
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
        examples = read_dataset(self.folder, row["path"], row["digest"])
        if examples:
            model = self._train_adapter(run, generation, examples, row["digest"])
        else:
            model = self._model_row_untrained(run, generation, row["digest"])
        with self.store.transaction() as db:
            add_model(db, model)
            add_event(db, "model-trained", run, generation, model=model["kind"],
                      examples=len(examples))  # fmt: skip
            mark_done(db, run, generation, "train")

    # ---- helpers ---------------------------------------------------------------------------

    def _chunks(self, run: int, generation: int) -> list[Chunk]:
        return plan_chunks(self.tasks, self.config.loop, self.config.generation, run, generation)

    def _record_generation(self, run: int, generation: int, validator: tuple[str, str]) -> None:
        sampling = json.dumps(to_dict(self.config.generation), sort_keys=True)
        with self.store.transaction() as db:
            add_generation(db, run, generation, sampling, self.config.loop.heldout_samples,
                           validator)  # fmt: skip

    def _model_row_untrained(self, run: int, generation: int, dataset: str) -> dict[str, Any]:
        log.warning("run %d gen %d: the curated set is empty; generation %d is the base model",
                    run, generation, generation)  # fmt: skip
        return base_model_row(run, generation, self.base, dataset, 0.0)

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
        return trained_model_row(run, generation, self.base, result, path.as_posix(), dataset,
                                 json.dumps(to_dict(config), sort_keys=True))  # fmt: skip

    def summaries(self) -> list[GenerationSummary]:
        """Return the summary of every evaluated generation, by run then generation."""
        return self.view.summaries()
