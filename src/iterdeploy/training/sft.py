"""Supervised fine-tuning of the BASE model on a curated set: TRL SFTTrainer, LoRA or full.

Every generation trains from the base checkpoint, never from the previous generation's adapter
(the paper's rule; stacking would compound drift). Each example is the prompt, rendered in the
model's chat template exactly as the generation backend renders it, and the completion, the
trace text the model produced (reasoning, `</think>`, plan); TRL appends the eos token and the
loss covers completion tokens only (unless `completion_only=False`, used for pretraining).
The run is seeded and deterministic on CPU: the same base, examples and config give
byte-identical weights and therefore the same digest.
The output directory holds the adapter (or full checkpoint) in safetensors, the tokenizer, and
`train.json` with the digest, the loss curves and the config.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import shutil
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import datasets
import torch
from datasets import Dataset
from peft import LoraConfig, get_peft_model
from transformers import PrinterCallback, TrainerCallback, set_seed
from trl import SFTConfig, SFTTrainer

from iterdeploy.errors import ConfigError, TrainingError
from iterdeploy.hfmodels import is_peft_adapter, load_causal_lm, load_tokenizer, pick_dtype
from iterdeploy.prompting.build import render_chat
from iterdeploy.training.config import TrainConfig
from iterdeploy.training.distributed import train_distributed
from iterdeploy.training.result import Curve, TrainResult, replace_dir

log = logging.getLogger(__name__)


def train(
    base: str | Path,
    examples: Sequence[Mapping[str, str]],
    config: TrainConfig,
    out_dir: str | Path,
) -> TrainResult:
    """Return the result of fine-tuning `base` on `examples`, saved into `out_dir`.

    In this process, or, when `config.launch` is set, in that many processes of an
    `accelerate launch` (`training.distributed.train_distributed`); both give the same kind of
    folder and result.

    Args:
        base: the BASE model, a hub id or a checkpoint directory; never an adapter.
        examples: `{"prompt": ..., "completion": ...}` mappings, the prompt before the chat
            template (as given to a backend) and the completion as the model wrote it.
        out_dir: replaced atomically when training succeeds; untouched when it fails.
    """
    rows = check_examples(examples)
    check_base(base)
    if config.launch is not None:
        return train_distributed(base, rows, config, out_dir, config.launch)
    out = Path(out_dir)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    start = time.perf_counter()
    set_seed(config.seed)  # adapter init and dropout draw from the global torch RNG
    tokenizer = load_tokenizer(base, config.trust_remote_code)
    model = load_causal_lm(base, torch.float32, "cpu", config.trust_remote_code)
    if config.method == "lora":
        model = get_peft_model(model, lora_config(config))
    train_rows, eval_rows = split_rows(rows, config.validation_fraction, config.seed)
    with quiet_datasets():
        trainer = SFTTrainer(
            model=model,
            args=sft_args(
                config, partial / "trainer", len(train_rows), bool(eval_rows), model.config
            ),
            train_dataset=to_dataset(train_rows, tokenizer),
            eval_dataset=to_dataset(eval_rows, tokenizer) if eval_rows else None,
            processing_class=tokenizer,
        )
    trainer.remove_callback(PrinterCallback)  # losses go to train.json and our log instead
    trainer.add_callback(LogLosses())
    with quiet_datasets():
        trainer.train()
    losses, eval_losses = curves(trainer.state.log_history)
    if any(not math.isfinite(loss) for _, loss in losses + eval_losses):
        raise TrainingError(
            f"training {base!s} diverged (non-finite loss {losses[-3:]}): lower "
            f"training.learning_rate (now {config.learning_rate})"
        )
    shutil.rmtree(partial / "trainer", ignore_errors=True)  # only rank 0 creates it
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # A rank of train_distributed, done training: leave the process group, because inside
        # one transformers saves full checkpoints on rank 0 only, and every rank must save its
        # replica for the rank-agreement check (training/distributed.py).
        torch.distributed.destroy_process_group()
    trainer.model.save_pretrained(partial, safe_serialization=True)
    tokenizer.save_pretrained(partial)
    epochs = trainer.state.epoch or config.epochs  # fewer than configured when max_steps binds
    tokens = int(sum(map(len, trainer.train_dataset["input_ids"])) * epochs)
    result = TrainResult(
        path=out,
        digest=weights_digest(partial),
        kind=config.method,
        losses=losses,
        eval_losses=eval_losses,
        wall_seconds=time.perf_counter() - start,
        tokens=tokens,
    )
    write_record(partial / "train.json", result, base, config, len(train_rows), len(eval_rows))
    replace_dir(partial, out)
    log.info(
        "trained %s from %s on %d examples (%d held out), %d tokens: loss %.3f -> %.3f in %.0fs",
        config.method, base, len(train_rows), len(eval_rows), tokens,
        losses[0][1] if losses else math.nan, losses[-1][1] if losses else math.nan,
        result.wall_seconds,
    )  # fmt: skip
    return result


class LogLosses(TrainerCallback):
    """Log the training loss, with the step count, each time the trainer records it."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            log.info("step %d/%d: loss %.4f", state.global_step, state.max_steps, logs["loss"])


@contextmanager
def quiet_datasets() -> Iterator[None]:
    """Hide the progress bars of `datasets` (one per preprocessing pass) while inside."""
    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def check_examples(examples: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """Return `examples` as plain dicts, or raise if one lacks a prompt or a completion."""
    if not examples:
        raise TrainingError("no examples to train on: the curated set is empty")
    rows = []
    for i, example in enumerate(examples):
        prompt, completion = example.get("prompt"), example.get("completion")
        if not isinstance(prompt, str) or not isinstance(completion, str) or not completion:
            raise ConfigError(
                f"training example {i} must map 'prompt' and 'completion' to strings, the "
                f"completion non-empty; got keys {sorted(example)}"
            )
        rows.append({"prompt": prompt, "completion": completion})
    return rows


def check_base(base: str | Path) -> None:
    """Raise if `base` is an adapter: every generation trains the base model itself."""
    if Path(base).is_dir() and is_peft_adapter(Path(base)):
        raise TrainingError(
            f"base {str(base)!r} is a LoRA adapter: pass the base model it was trained from "
            "(adapters are never stacked)"
        )


def lora_config(config: TrainConfig) -> LoraConfig:
    """Return the peft LoRA configuration of `config`."""
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_targets,
        task_type="CAUSAL_LM",
    )


def sft_args(
    config: TrainConfig, scratch: Path, train_rows: int, has_eval: bool, model_config
) -> SFTConfig:
    """Return TRL's arguments for `config`; checkpoints are not written, only the final model."""
    context = getattr(model_config, "max_position_embeddings", None)
    # TRL's SFTConfig sets a field transformers renamed; the FutureWarning is not ours to fix.
    warnings.filterwarnings("ignore", "`gradient_checkpointing` is deprecated", FutureWarning)
    return SFTConfig(
        output_dir=str(scratch),
        num_train_epochs=config.epochs,
        max_steps=step_cap(config, train_rows),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.scheduler,
        warmup_steps=config.warmup_ratio,  # a float in [0, 1) is a fraction of all steps
        weight_decay=config.weight_decay,
        optim="adamw_torch",
        seed=config.seed,
        data_seed=config.seed,
        bf16=pick_dtype(config.dtype) == torch.bfloat16,
        use_cpu=not torch.cuda.is_available(),
        completion_only_loss=config.completion_only,
        packing=False,
        max_length=config.max_length or context,
        eval_strategy="epoch" if has_eval else "no",
        save_strategy="no",
        logging_steps=config.logging_steps,
        logging_first_step=True,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )


def step_cap(config: TrainConfig, train_rows: int) -> int:
    """Return TRL's `max_steps`: `config.max_steps` when the epochs would take more, else -1.

    >>> step_cap(TrainConfig(epochs=6, batch_size=4, max_steps=300), 100)  # 25 x 6 = 150 steps
    -1
    >>> step_cap(TrainConfig(epochs=6, batch_size=4, max_steps=300), 4000)  # 6000 steps
    300
    """
    per_epoch = math.ceil(train_rows / (config.batch_size * config.grad_accumulation))
    if config.max_steps and math.ceil(per_epoch * config.epochs) > config.max_steps:
        return config.max_steps
    return -1


def split_rows(
    rows: list[dict[str, str]], fraction: float, seed: int
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Return (train, validation): a seeded `fraction` held out, at least one row left to train.

    >>> train, held = split_rows([{"i": str(i)} for i in range(20)], 0.1, seed=0)
    >>> len(train), len(held)
    (18, 2)
    """
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    held = min(round(len(rows) * fraction), len(rows) - 1)
    return [rows[i] for i in order[held:]], [rows[i] for i in order[:held]]


def to_dataset(rows: list[dict[str, str]], tokenizer) -> Dataset:
    """Return `rows` as a prompt/completion dataset with prompts in the model's chat template."""
    return Dataset.from_list(
        [
            {"prompt": render_chat(tokenizer, r["prompt"]), "completion": r["completion"]}
            for r in rows
        ]
    )


def curves(history: list[dict[str, float]]) -> tuple[Curve, Curve]:
    """Return the (step, loss) training and validation curves from a trainer's log history."""
    losses = tuple((int(h["step"]), float(h["loss"])) for h in history if "loss" in h)
    evals = tuple((int(h["step"]), float(h["eval_loss"])) for h in history if "eval_loss" in h)
    return losses, evals


def weights_digest(folder: Path) -> str:
    """Return the sha256 over the names and bytes of the safetensors files in `folder`."""
    digest = hashlib.sha256()
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise TrainingError(f"no safetensors weights were saved in {folder}")
    for file in files:
        digest.update(file.name.encode() + b"\0")
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def write_record(
    path: Path,
    result: TrainResult,
    base: str | Path,
    config: TrainConfig,
    n_train: int,
    n_eval: int,
) -> None:
    """Write `train.json`: what was trained from what, how, and the loss curves."""
    record = {
        "kind": result.kind,
        "base": str(base),
        "digest": result.digest,
        "examples": n_train,
        "validation_examples": n_eval,
        "tokens": result.tokens,
        "wall_seconds": round(result.wall_seconds, 3),
        "losses": result.losses,
        "eval_losses": result.eval_losses,
        "config": asdict(config),
    }
    path.write_text(json.dumps(record, indent=1) + "\n")
