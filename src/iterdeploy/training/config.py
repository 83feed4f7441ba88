"""`TrainConfig`: how one generation's model is fine-tuned; defaults are the paper's settings.

`LaunchConfig` is the optional `[training.launch]` table: when set, the training runs in
several processes under `accelerate launch` (training/distributed.py) instead of in-process.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from iterdeploy.errors import require, require_choices

# Precision names of training and of the transformers backend ("auto": bf16 where the
# hardware runs it natively, else fp32); iterdeploy.hfmodels maps them to torch dtypes.
Dtype = Literal["auto", "float32", "bfloat16", "float16"]


@dataclass(frozen=True, slots=True)
class LaunchConfig:
    """How `accelerate launch` spreads one training over processes (GPUs) and machines."""

    strategy: Literal["ddp", "zero2"] = "ddp"  # replicas (all-reduced gradients) or DeepSpeed
    processes: int = 2  # processes over all machines: one per GPU
    machines: int = 1  # machines taking part; run the same launch on each
    machine_rank: int = 0  # this machine's index (0 hosts the rendezvous)
    main_address: str = "127.0.0.1"  # address of machine 0, reachable from every machine
    main_port: int = 29500  # rendezvous port on machine 0
    mixed_precision: Literal["no", "fp16", "bf16"] = "bf16"  # accelerate's precision
    cpu: bool = False  # gloo DDP over CPU processes instead of GPUs (tests, CPU machines)

    def __post_init__(self) -> None:
        require(self.strategy != "zero3", "training.launch.strategy", self.strategy,
                "'ddp', or 'zero2' (optimizer states sharded, parameters replicated): ZeRO-3 "
                "with LoRA saves empty adapters unless the parameters are gathered; use "
                "'zero2'")  # fmt: skip
        require_choices(self, "training.launch")
        require(self.machines >= 1, "training.launch.machines", self.machines, "an integer >= 1")
        require(self.processes >= 1 and self.processes % self.machines == 0,
                "training.launch.processes", self.processes,
                f"an integer >= 1, a multiple of machines = {self.machines} (the same number on "
                "each machine)")  # fmt: skip
        require(0 <= self.machine_rank < self.machines, "training.launch.machine_rank",
                self.machine_rank, f"0..{self.machines - 1}")  # fmt: skip
        require(not self.cpu or self.strategy == "ddp", "training.launch.cpu", self.cpu,
                "false unless strategy = 'ddp' (DeepSpeed needs GPUs)")  # fmt: skip


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Supervised fine-tuning of the base model on a curated set (TRL SFTTrainer)."""

    method: Literal["lora", "full"] = "lora"  # peft adapter (the paper), or all weights (tiny)
    lora_r: int = 16  # paper
    lora_alpha: int = 32  # paper
    lora_dropout: float = 0.05  # paper
    lora_targets: str = "all-linear"  # every linear projection except the output head
    learning_rate: float = 1e-5  # paper (AdamW)
    epochs: float = 2.0  # paper
    batch_size: int = 1  # paper
    grad_accumulation: int = 1  # optimizer step every N batches
    max_steps: int = 0  # cap on optimizer steps per round (fewer epochs on a big set); 0: no cap
    scheduler: str = "linear"  # learning-rate schedule (transformers SchedulerType name)
    warmup_ratio: float = 0.0  # fraction of steps spent warming up
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    validation_fraction: float = 0.1  # paper: 10% of the curated set held out for eval loss
    max_length: int | None = None  # tokens per example; None: the model's context length
    completion_only: bool = True  # loss on completion tokens only; False adds the prompt's
    dtype: Dtype = "auto"  # "auto": bf16 autocast where the hardware runs it natively, else fp32
    logging_steps: int = 10  # one point of the training-loss curve every N optimizer steps
    seed: int = 0  # seeds weight init of the adapter, dropout, shuffling and the split
    trust_remote_code: bool = False  # let the base checkpoint run its own code; off unless asked
    launch: LaunchConfig | None = None  # [training.launch]: accelerate over N processes; None: here

    def __post_init__(self) -> None:
        require_choices(self, "training")
        require(self.launch is None or self.launch.machines == 1, "training.launch.machines",
                None if self.launch is None else self.launch.machines,
                "1: the loop trains on the machine that runs it (processes = that machine's "
                "GPUs); for several machines call training.distributed.train_distributed on "
                "each (docs/scale.md)")  # fmt: skip
        checks = {
            "lora_r": self.lora_r >= 1,
            "lora_alpha": self.lora_alpha > 0,
            "lora_dropout": 0 <= self.lora_dropout < 1,
            "learning_rate": self.learning_rate > 0,
            "epochs": self.epochs > 0,
            "batch_size": self.batch_size >= 1,
            "grad_accumulation": self.grad_accumulation >= 1,
            "max_steps": self.max_steps >= 0,
            "warmup_ratio": 0 <= self.warmup_ratio < 1,
            "weight_decay": self.weight_decay >= 0,
            "validation_fraction": 0 <= self.validation_fraction < 1,
            "max_length": self.max_length is None or self.max_length >= 2,
            "logging_steps": self.logging_steps >= 1,
        }
        for key, ok in checks.items():
            require(ok, f"training.{key}", getattr(self, key),
                    f"a value in range; the default is {DEFAULTS[key]!r}")  # fmt: skip


DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}
