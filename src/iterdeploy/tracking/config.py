"""The `[tracking]` table: which experiment trackers receive a run's numbers, and where.

Imports nothing heavy: `iterdeploy.config` composes it into `RunConfig` (as an optional table,
so a config without `[tracking]` keeps its digest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from iterdeploy.errors import require, require_choices


@dataclass(frozen=True, slots=True)
class TrackingConfig:
    """Trackers fed per generation: summary numbers, training losses, curated set, config."""

    backends: tuple[Literal["tensorboard", "mlflow", "wandb"], ...] = ()  # () = none
    dir: str = ""  # tracker files; "" = <run folder>/tracking, kept with the run
    mlflow_uri: str = ""  # "" = an MLflow file store in <dir>/mlruns; or file:..., http://...
    project: str = "iterdeploy"  # the MLflow experiment and the W&B project
    # "offline": files only (`wandb sync` uploads later), or "online"
    wandb_mode: Literal["offline", "online"] = "offline"

    def __post_init__(self) -> None:
        require_choices(self, "tracking")
        require(len(set(self.backends)) == len(self.backends), "tracking.backends",
                list(self.backends), "each tracker listed once")  # fmt: skip
        require(bool(self.project.strip()), "tracking.project", self.project,
                "a name for the experiment, e.g. 'iterdeploy'")  # fmt: skip
