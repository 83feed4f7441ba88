"""One run folder's tracking: the configured trackers, fed once per generation.

The loop calls `log_generation` after each evaluated generation. A ledger in the run folder
(`tracking.json`) lists what each tracker already received, written after the tracker flushed,
so a resumed run sends only generations it has not logged yet: a tracker never gets one twice.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from iterdeploy.tracking.config import TrackingConfig

log = logging.getLogger(__name__)

LEDGER = "tracking.json"


@dataclass(frozen=True, slots=True)
class GenerationRecord:
    """What a tracker receives for one evaluated generation of one run."""

    run: int
    generation: int
    metrics: dict[str, float]  # the generation summary's numbers (summary.json fields)
    losses: tuple[tuple[int, float], ...]  # (optimizer step, loss) of this generation's model
    eval_losses: tuple[tuple[int, float], ...]  # (step, validation loss); often empty
    dataset: Path | None  # the curated set this generation's model trained on; None for base
    dataset_digest: str = ""

    @property
    def key(self) -> str:
        return f"r{self.run}/g{self.generation}"


class Tracker(Protocol):
    """A destination: TensorBoard event files, an MLflow run, a W&B run."""

    def log_config(self, config: Mapping[str, Any]) -> None: ...

    def log_generation(self, record: GenerationRecord) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TrackerContext:
    """What every tracker is opened with."""

    run_id: str  # the run folder's id: the MLflow run name, the W&B run id
    folder: Path  # the run folder
    dir: Path  # where tracker files go
    config: TrackingConfig


class Tracking:
    """The configured trackers of a run folder, with the ledger of what each received."""

    def __init__(self, trackers: dict[str, Tracker], folder: Path) -> None:
        self.trackers = trackers
        self.path = folder / LEDGER
        self.logged: dict[str, list[str]] = (
            json.loads(self.path.read_text(encoding="utf-8")) if self.path.is_file() else {}
        )

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Send the resolved config to every tracker that has not received it."""
        self._each("config", lambda tracker: tracker.log_config(config))

    def log_generation(self, record: GenerationRecord) -> None:
        """Send one generation to every tracker that has not received it."""
        self._each(record.key, lambda tracker: tracker.log_generation(record))

    def close(self) -> None:
        for tracker in self.trackers.values():
            tracker.close()

    def _each(self, key: str, send) -> None:
        for name, tracker in self.trackers.items():
            done = self.logged.setdefault(name, [])
            if key in done:
                continue
            send(tracker)
            done.append(key)
            _write_atomic(self.path, json.dumps(self.logged, indent=1, sort_keys=True) + "\n")
            log.info("tracking: sent %s to %s", key, name)


@contextmanager
def open_tracking(
    config: TrackingConfig | None, folder: Path, run_id: str, resolved: Mapping[str, Any]
) -> Iterator[Tracking | None]:
    """Yield the run folder's trackers (None without [tracking]), having sent the config."""
    if config is None or not config.backends:
        yield None
        return
    from iterdeploy.tracking import TRACKERS

    folder = Path(folder)
    where = Path(config.dir) if config.dir else folder / "tracking"
    context = TrackerContext(run_id, folder, where, config)
    trackers: dict[str, Tracker] = {}
    tracking = Tracking(trackers, folder)
    try:
        for name in config.backends:
            trackers[name] = TRACKERS.get(name)(context)
        tracking.log_config(resolved)
        yield tracking
    finally:
        tracking.close()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
