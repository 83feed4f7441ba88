"""The `[tracking]` table: which experiment trackers receive a run's numbers, and where.

Imports nothing heavy: `iterdeploy.config` composes it into `RunConfig` (as an optional table,
so a config without `[tracking]` keeps its digest).
"""

from __future__ import annotations

from dataclasses import dataclass

from iterdeploy.errors import require

TRACKER_NAMES = ("tensorboard", "mlflow", "wandb")
WANDB_MODES = ("offline", "online")


@dataclass(frozen=True, slots=True)
class TrackingConfig:
    """Trackers fed per generation: summary numbers, training losses, curated set, config."""

    backends: tuple[str, ...] = ()  # any of "tensorboard", "mlflow", "wandb"; () = none
    dir: str = ""  # tracker files; "" = <run folder>/tracking, kept with the run
    mlflow_uri: str = ""  # "" = an MLflow file store in <dir>/mlruns; or file:..., http://...
    project: str = "iterdeploy"  # the MLflow experiment and the W&B project
    wandb_mode: str = "offline"  # "offline": files only (`wandb sync` uploads later); "online"

    def __post_init__(self) -> None:
        for name in self.backends:
            require(name in TRACKER_NAMES, "tracking.backends", name,
                    f"a known tracker: {', '.join(TRACKER_NAMES)}")  # fmt: skip
        require(len(set(self.backends)) == len(self.backends), "tracking.backends",
                list(self.backends), "each tracker listed once")  # fmt: skip
        require(self.wandb_mode in WANDB_MODES, "tracking.wandb_mode", self.wandb_mode,
                f"one of {', '.join(WANDB_MODES)}")  # fmt: skip
        require(bool(self.project.strip()), "tracking.project", self.project,
                "a name for the experiment, e.g. 'iterdeploy'")  # fmt: skip
