"""What a fine-tuning run returns, and how its folder replaces the previous one (no torch here).

Shared by the in-process trainer (`training.sft`) and the distributed launcher
(`training.distributed`), which collects rank 0's folder into the same result.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

Curve = tuple[tuple[int, float], ...]  # (optimizer step, loss) points


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What one fine-tuning run produced; `path` is what a backend's `adapter=` accepts."""

    path: Path  # the adapter directory (lora) or full checkpoint directory (full)
    digest: str  # sha256 of the saved safetensors files: the identity of the weights
    kind: str  # "lora" or "full"
    losses: Curve  # training loss every `logging_steps` optimizer steps
    eval_losses: Curve  # validation loss after each epoch (empty without a validation split)
    wall_seconds: float
    tokens: int  # tokens the model was trained on, prompts included, over all epochs


def replace_dir(new: Path, target: Path) -> None:
    """Move `new` to `target`, replacing a previous `target` only once `new` is complete."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)
