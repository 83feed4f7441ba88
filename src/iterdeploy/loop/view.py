"""What the loop reads back from its own store: the deployed model, traces, summaries.

`RunView` answers the orchestrator's questions about work already stored: which model samples
a generation's pool, where a model's weights are, the traces curation sees, and the summary of
each generation (also sent to the trackers). It only reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from iterdeploy.errors import StoreError
from iterdeploy.loop.stages import GenerationSummary, summarize_generation
from iterdeploy.loop.store import Store
from iterdeploy.records import StoredTrace
from iterdeploy.tracking.session import GenerationRecord

if TYPE_CHECKING:
    from iterdeploy.config import RunConfig
    from iterdeploy.domains.base import Task


class RunView:
    """Read-only questions about one run folder's stored work."""

    def __init__(
        self,
        config: RunConfig,
        folder: Path,
        store: Store,
        tasks: list[Task],
        problems: dict[str, str],
    ) -> None:
        self.config = config
        self.folder = folder
        self.store = store
        self.tasks = tasks
        self.problems = problems  # task_id -> content key: copies share a key

    def pool_model(self, run: int, generation: int) -> int:
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

    def model_path(self, run: int, generation: int) -> str | None:
        """Return the adapter (or checkpoint) folder of model (run, generation); None: base."""
        row = self.store.model(run, generation)
        if row is None:
            raise StoreError(
                f"run {run} generation {generation} has no model; the store is "
                "inconsistent (was it edited?)"
            )
        path = row["adapter_path"]
        return None if path is None else str(self.folder / path)

    def curation_traces(self, run: int, last: int) -> list[StoredTrace]:
        """Return the traces of generations 0..last of `run`, with texts, as curation sees them."""
        return self.store.traces_with_tasks(run, (0, last))

    def solved_before(self, run: int, generation: int) -> set[str]:
        """Return the tasks some generation before `generation` of `run` solved."""
        return set().union(*(self.store.solved(run, g) for g in range(generation)))

    def summary(self, run: int, generation: int, solved_before: set[str]) -> GenerationSummary:
        """Return the summary of (run, generation) from its stored traces."""
        dataset = self.store.dataset(run, generation)
        return summarize_generation(
            run,
            generation,
            self.store.traces_with_tasks(run, (generation, generation)),
            {t.id: t.split for t in self.tasks},
            solved_before,
            dataset["size"] if dataset else 0,
            self.pool_model(run, generation),
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
                summary = self.summary(run, generation, solved)
                solved |= self.solved_before(run, generation + 1)
                out.append(summary)
        return out

    def generation_record(self, run: int, generation: int) -> GenerationRecord:
        """Return what the trackers receive for an evaluated generation: its summary numbers,
        its model's losses and its curated set."""
        summary = self.store.last_event(run, generation, "generation-evaluated")["summary"]
        model = self.store.model(run, generation)
        dataset = self.store.dataset(run, generation)
        numbers = {k: float(v) for k, v in summary.items()
                   if k not in ("run", "generation") and isinstance(v, (int, float))}  # fmt: skip
        return (
            GenerationRecord(
                run, generation, numbers,
                tuple(map(tuple, json.loads(model["losses"]))),
                tuple(map(tuple, json.loads(model["eval_losses"]))),
                self.folder / dataset["path"] if dataset else None,
                dataset["digest"] if dataset else "",
            )
        )  # fmt: skip
