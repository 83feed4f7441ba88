"""The `[tracking]` table: which experiment trackers receive a run's numbers, and where.

Imports nothing heavy: `iterdeploy.config` composes it into `RunConfig` (as an optional table,
so a config without `[tracking]` keeps its digest).
"""

from __future__ import annotations

from dataclasses import dataclass

from iterdeploy.errors import ConfigError

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
            if name not in TRACKER_NAMES:
                raise ConfigError(
                    f"tracking.backends: unknown tracker {name!r}; allowed: "
                    f"{', '.join(TRACKER_NAMES)}"
                )
        if len(set(self.backends)) != len(self.backends):
            raise ConfigError(f"tracking.backends = {list(self.backends)!r}: list each once")
        if self.wandb_mode not in WANDB_MODES:
            raise ConfigError(
                f"tracking.wandb_mode = {self.wandb_mode!r}: use one of {', '.join(WANDB_MODES)}"
            )
        if not self.project.strip():
            raise ConfigError("tracking.project is empty: name the experiment, e.g. 'iterdeploy'")
