"""Trackers by name: where the loop sends its numbers (docs/analysis.md, "Experiment tracking")."""

from __future__ import annotations

from iterdeploy.registry import Registry

TRACKERS = Registry(
    "tracker",
    {
        "tensorboard": "iterdeploy.tracking.trackers:TensorBoardTracker",
        "mlflow": "iterdeploy.tracking.trackers:MLflowTracker",
        "wandb": "iterdeploy.tracking.trackers:WandbTracker",
    },
)
