"""Fine-tuning the base model on a curated set (TRL SFTTrainer; LoRA via peft, or full)."""

from __future__ import annotations

from iterdeploy.training.config import LaunchConfig, TrainConfig

__all__ = ["LaunchConfig", "TrainConfig"]
