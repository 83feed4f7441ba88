"""What the embedded default model is: its shape and its pretraining recipe (no torch here).

`EmbeddedConfig` is the `[embedded]` table of a run config. Its digest names the cached build
(`iterdeploy.embedded.cache`), so two runs with the same table share one model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from typing import Literal

from iterdeploy.errors import require, require_choices
from iterdeploy.training.config import Dtype, TrainConfig

# Bump when the data, the tokenizer, the trace format or the training code changes what a
# config builds.
FORMAT_VERSION = 4  # 4: Sokoban tasks no longer open with a push (walks changed)
DEFAULT_DOMAINS = ("blocksworld",)  # what a build outside a run pretrains on


@dataclass(frozen=True, slots=True)
class ModelSize:
    """The shape of a tiny Qwen3 model and the size of its tokenizer."""

    vocab_size: int  # BPE entries, special tokens included
    hidden_size: int
    layers: int
    heads: int
    kv_heads: int  # grouped-query attention: heads share key/value projections
    head_dim: int
    intermediate_size: int  # SwiGLU width
    max_positions: int  # longest prompt + output the model accepts


Size = Literal["test", "small"]  # the model shapes a config may name (keys of SIZES)
SIZES: dict[Size, ModelSize] = {
    # ~0.1M parameters: builds in about a second, for tests.
    "test": ModelSize(512, 64, 2, 4, 2, 16, 192, 2048),
    # ~0.85M parameters: the embedded default model (pretrained by iterdeploy.embedded.cache).
    "small": ModelSize(512, 128, 4, 4, 2, 32, 384, 2048),
}


@dataclass(frozen=True, slots=True)
class EmbeddedConfig:
    """What the embedded default model is: its shape, its pretraining data and schedule."""

    size: Size = "small"  # a key of SIZES (0.83M parameters)
    domains: tuple[str, ...] = ()  # domains the walks are drawn from; () = the run's pool domains
    levels: tuple[int, ...] = (0, 1)  # ladder levels of the pretraining tasks (2-4 blocks)
    examples: int = 12000  # random-walk traces, each seen once
    max_steps: int = 6  # walks take 1..max_steps actions
    max_reasoning_lines: int = 8  # reasoning restates the first 1..this many goal atoms
    tokenizer_examples: int = 1000  # traces the tokenizer is trained on
    learning_rate: float = 3e-3  # AdamW peak, cosine decay after 5% warm-up
    batch_size: int = 8  # small batches: more optimizer steps for the same compute
    seed: int = 0  # seeds the data, the tokenizer corpus, the weights and the training
    completion_only: bool = False  # loss on the trace only; False also predicts the task text
    dtype: Dtype = "float32"  # pretraining precision; fp32 gives the same model on every CPU

    def __post_init__(self) -> None:
        require_choices(self, "embedded")
        checks = {
            "examples": (self.examples >= 2, "an integer >= 2"),
            "max_steps": (self.max_steps >= 1, "an integer >= 1"),
            "max_reasoning_lines": (self.max_reasoning_lines >= 1, "an integer >= 1"),
            "tokenizer_examples": (self.tokenizer_examples >= 1, "an integer >= 1"),
            "learning_rate": (self.learning_rate > 0, "a number > 0"),
            "batch_size": (self.batch_size >= 1, "an integer >= 1"),
        }
        for key, (ok, allowed) in checks.items():
            require(ok, f"embedded.{key}", getattr(self, key), allowed)

    def for_domains(self, domains: tuple[str, ...] = DEFAULT_DOMAINS) -> EmbeddedConfig:
        """Return this config with `domains` filled in when it names none."""
        return self if self.domains else replace(self, domains=tuple(domains))

    def digest(self) -> str:
        """Return the 16-hex-digit key of this config (and of the build code's format)."""
        config = self.for_domains()
        payload = json.dumps({"format": FORMAT_VERSION, **asdict(config)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def train_config(self) -> TrainConfig:
        """Return the pretraining schedule as a `TrainConfig` (full fine-tuning, one epoch)."""
        return TrainConfig(
            method="full",
            learning_rate=self.learning_rate,
            epochs=1,
            batch_size=self.batch_size,
            scheduler="cosine",
            warmup_ratio=0.05,
            validation_fraction=0.0,
            logging_steps=10,
            completion_only=self.completion_only,
            dtype=self.dtype,
            seed=self.seed,
        )
