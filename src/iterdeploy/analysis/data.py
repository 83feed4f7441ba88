"""Read a run folder's store into plain records that the tables, plots and audit work on.

Analysis only reads: it opens `store.sqlite` through `loop.store.Store` and never writes (the
deployment pointer is moved by `loop.gate`). Only generations whose `evaluate` stage is done
are loaded, so a run that is still going (or was killed) is analysed up to its last whole
generation. Full model outputs are not loaded; plans, lengths, token counts and verdicts are.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from iterdeploy.domains.pool import content_key
from iterdeploy.errors import StoreError
from iterdeploy.loop.stages import solved_tasks
from iterdeploy.loop.store import Store, open_store, reads
from iterdeploy.records import StoredTrace

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A task as analysis sees it."""

    task_id: str
    domain: str
    split: str  # "pool" | "heldout"
    difficulty: str
    reference_length: int | None
    problem: str = ""  # PDDL problem text ("" when unknown, e.g. hand-made records)

    @property
    def problem_key(self) -> str:
        """Return what identifies this task's problem: copies of one problem in a pool share
        it (`domains.pool.content_key`); a record without problem text is its own problem."""
        return content_key(self.problem) if self.problem else self.task_id


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    """A curated set: what the model of (run, generation) was trained on."""

    run: int
    generation: int
    policy: str
    params: str  # JSON
    digest: str
    size: int
    path: str  # relative to the run folder
    sources: tuple[tuple[int, str, int], ...]  # (source generation, task_id, sample) per example


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """A stored model: how it was made and its training curves."""

    run: int
    generation: int
    kind: str  # base | lora | full
    losses: tuple[tuple[int, float], ...]  # (optimizer step, training loss) as logged
    eval_losses: tuple[tuple[int, float], ...]  # (step, validation loss); empty without one


@dataclass(frozen=True, slots=True)
class RunData:
    """Everything analysis needs from one run folder (which may hold several runs)."""

    folder: Path
    run_id: str
    policy: str  # label of the curation policy, with its parameters when it has any
    tasks: dict[str, TaskRecord]
    traces: tuple[StoredTrace, ...]
    datasets: tuple[DatasetRecord, ...]
    generations: dict[int, tuple[int, ...]]  # run -> evaluated generations, ascending
    solved_sets: dict[tuple[int, int, str], frozenset[str]]  # (run, generation, split) -> tasks
    by_generation: dict[tuple[int, int], tuple[StoredTrace, ...]]  # (run, generation) -> traces
    models: tuple[ModelRecord, ...] = ()  # every stored model, by run then generation
    # (run, generation) -> the generation whose model sampled the pool; only gated runs differ
    pool_models: dict[tuple[int, int], int] = field(default_factory=dict)

    @property
    def runs(self) -> list[int]:
        return sorted(self.generations)

    def solved(self, run: int, generation: int, split: str) -> frozenset[str]:
        """Return the tasks of `split` with at least one valid trace in (run, generation)."""
        return self.solved_sets.get((run, generation, split), frozenset())

    def traces_of(self, run: int, generation: int, split: str | None = None) -> list[StoredTrace]:
        """Return the traces of (run, generation), of one split if `split` is given."""
        rows = self.by_generation.get((run, generation), ())
        return [t for t in rows if split is None or t.split == split]

    def split_tasks(self, split: str) -> list[TaskRecord]:
        return [t for t in self.tasks.values() if t.split == split]

    def pool_model(self, run: int, generation: int) -> int:
        """Return the generation whose model sampled the pool traces of (run, generation)."""
        return self.pool_models.get((run, generation), generation)

    def dataset(self, run: int, generation: int) -> DatasetRecord | None:
        return next((d for d in self.datasets if (d.run, d.generation) == (run, generation)), None)


def load_run(folder: str | Path) -> RunData:
    """Return the evaluated generations of the run folder `folder` as records."""
    folder = Path(folder)
    with open_store(folder) as store:
        generations = _evaluated(store)
        if not generations:
            raise StoreError(
                f"{folder} has no evaluated generation yet; run `iterdeploy resume {folder}`"
            )
        tasks = {
            r["task_id"]: TaskRecord(
                r["task_id"],
                r["domain"],
                r["split"],
                r["difficulty"],
                r["reference_length"],
                r["problem"],
            )
            for r in reads.all_tasks(store)
        }
        traces = tuple(
            t for t in reads.all_traces(store) if t.generation in generations.get(t.run, ())
        )
        datasets = _datasets(store)
        models = tuple(
            ModelRecord(
                r["run"],
                r["generation"],
                r["kind"],
                tuple((int(s), float(v)) for s, v in json.loads(r["losses"])),
                tuple((int(s), float(v)) for s, v in json.loads(r["eval_losses"])),
            )
            for r in reads.all_models(store)
        )
        pool_models = {key: int(r["deployed"]) for key, r in store.gate_decisions().items()}
        run_id = store.get_meta("run_id") or folder.name
    policy = _policy_label(datasets, folder)
    grouped: dict[tuple[int, int], list[StoredTrace]] = defaultdict(list)
    for t in traces:
        grouped[(t.run, t.generation)].append(t)
    log.info(
        "loaded %s: %d runs, %d tasks, %d traces, %d datasets",
        folder,
        len(generations),
        len(tasks),
        len(traces),
        len(datasets),
    )
    frozen = {
        (run, gen, split): frozenset(ids)
        for (run, gen), rows in grouped.items()
        for split, ids in solved_tasks(rows, lambda t: t.split).items()
    }
    by_generation = {key: tuple(rows) for key, rows in grouped.items()}
    return RunData(
        folder,
        run_id,
        policy,
        tasks,
        traces,
        datasets,
        generations,
        frozen,
        by_generation,
        models,
        pool_models,
    )


def _evaluated(store: Store) -> dict[int, tuple[int, ...]]:
    out: dict[int, list[int]] = defaultdict(list)
    for r in reads.all_evaluated(store):
        out[r["run"]].append(r["generation"])
    # Keep each run's generations 0, 1, ... up to the first gap (none can be skipped).
    kept = {
        run: tuple(g for i, g in enumerate(gens) if gens[: i + 1] == list(range(i + 1)))
        for run, gens in out.items()
    }
    return {run: gens for run, gens in kept.items() if gens}


def _datasets(store: Store) -> tuple[DatasetRecord, ...]:
    sources: dict[tuple[int, int], list[tuple[int, str, int]]] = defaultdict(list)
    for r in reads.all_dataset_sources(store):
        sources[(r["run"], r["generation"])].append(
            (r["source_generation"], r["task_id"], r["sample"])
        )
    return tuple(
        DatasetRecord(
            r["run"],
            r["generation"],
            r["policy"],
            r["params"],
            r["digest"],
            r["size"],
            r["path"],
            tuple(sources[(r["run"], r["generation"])]),
        )
        for r in reads.all_datasets(store)
    )


def _policy_label(datasets: tuple[DatasetRecord, ...], folder: Path) -> str:
    if not datasets:
        return _policy_from_config(folder)
    first = datasets[0]
    params = json.loads(first.params)
    if not params:
        return first.policy
    return first.policy + "(" + ", ".join(f"{k}={v}" for k, v in sorted(params.items())) + ")"


def _policy_from_config(folder: Path) -> str:
    # A run with no curated set yet (generation 0 only) names its policy in config.toml.
    from iterdeploy.config import read_toml

    path = folder / "config.toml"
    if path.is_file():
        return str(read_toml(path).get("curation", {}).get("policy", "paper"))
    return "unknown"
