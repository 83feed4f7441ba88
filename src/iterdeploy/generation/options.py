"""What each backend takes as `model.backend_options`: one frozen dataclass per backend.

Standard library only, so a run config is checked (`iterdeploy.loop.setup`) without importing
torch, vllm or httpx. Each backend builds its dataclass from its keyword arguments, so these
fields are the one list of a backend's options; a closed set of values is a `Literal`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from iterdeploy.errors import LITERAL_KEY, ConfigError, require, require_choices
from iterdeploy.training.config import Dtype

WHERE = "model.backend_options"  # the config key every option is named under
DEFAULT_KEY_ENV = "OPENAI_API_KEY"  # the variable the openai backend reads its API key from


@dataclass(frozen=True, slots=True)
class FakeOptions:
    """The `fake` backend's rates (what is left of 1 is garbage)."""

    valid_rate: float = 0.5  # oracle plan, with a random amount of reasoning
    corrupt_rate: float = 0.3  # the oracle plan with one step dropped or repeated
    truncate_rate: float = 0.05  # reasoning that runs into the token limit
    max_reasoning_words: int = 40  # reasoning length is uniform in 1..this

    def __post_init__(self) -> None:
        rates = (self.valid_rate, self.corrupt_rate, self.truncate_rate)
        for key, rate in zip(("valid_rate", "corrupt_rate", "truncate_rate"), rates, strict=True):
            require(0 <= rate <= 1, f"{WHERE}.{key}", rate, "a rate in [0, 1]")
        total = sum(rates)
        require(total <= 1, f"{WHERE}.valid_rate", self.valid_rate,
                f"rates that sum to <= 1 (they sum to {total}; the rest is garbage)")  # fmt: skip


@dataclass(frozen=True, slots=True)
class TransformersOptions:
    """The `transformers` backend: batching, precision and device."""

    batch_size: int = 64  # rows sampled together (finished rows leave the batch)
    # "auto": bf16 on a CUDA GPU that has it, else fp32 (batch-invariant on CPU)
    dtype: Dtype = "auto"
    device: str = "auto"  # "auto": cuda when available, else cpu; or a torch device name
    trust_remote_code: bool = False  # let the checkpoint run its own code; off unless asked

    def __post_init__(self) -> None:
        require_choices(self, WHERE)
        require(self.batch_size >= 1, f"{WHERE}.batch_size", self.batch_size, "an integer >= 1")


@dataclass(frozen=True, slots=True)
class VLLMOptions:
    """The `vllm` backend: where its engine runs and what the engine is built with."""

    python: str | Path | None = None  # a python with vllm (e.g. .venv-vllm/bin/python); None: here
    dtype: str = "auto"  # vLLM's dtype name; "auto": bf16 on CPU, the checkpoint's on GPU
    max_model_len: int | None = None  # prompt + output tokens; None: the model's own limit
    enable_lora: bool = True  # serve PEFT adapters as LoRARequests on the base weights
    max_lora_rank: int = 16  # largest adapter rank accepted (the paper trains r=16)
    tensor_parallel_size: int = 1  # GPUs one model is split over
    pipeline_parallel_size: int = 1  # pipeline stages (GPUs or nodes)
    data_parallel_size: int = 1  # must be 1: offline vLLM runs one replica per process
    seed: int = 0  # engine seed; samples are seeded per request anyway
    single_process: bool | None = None  # engine core + model in this process; None: on CPU
    trust_remote_code: bool = False  # let the checkpoint run its own code; off unless asked
    engine_args: dict[str, Any] = field(default_factory=dict)  # any other vllm.LLM argument

    def __post_init__(self) -> None:
        require(self.data_parallel_size == 1, f"{WHERE}.data_parallel_size",
                self.data_parallel_size, "1: offline vLLM runs one replica per process; serve "
                "the model with `vllm serve MODEL --data-parallel-size N` and use the 'openai' "
                "backend")  # fmt: skip


@dataclass(frozen=True, slots=True)
class OpenAIOptions:
    """The `openai` backend: the server, the requests and their retries."""

    base_url: str = "http://127.0.0.1:8000/v1"  # the server's OpenAI root, ending in /v1
    # "chat" (the server applies the chat template) or "completions"
    endpoint: Literal["chat", "completions"] = "chat"
    tokenizer: str | Path | None = None  # local tokenizer for token counts; None: /tokenize
    api_key_env: str = DEFAULT_KEY_ENV  # variable holding the API key (see OpenAIBackend)
    concurrency: int = 8  # requests in flight at once
    timeout: float = 600.0  # seconds for one request
    retries: int = 4  # further attempts after a failure
    backoff: float = 1.0  # wait backoff * 2**k seconds before attempt k+1
    max_backoff: float = 30.0  # longest wait between attempts
    adapters: dict[str, str] | None = None  # local adapter path -> its served name
    load_adapters: bool = False  # register unknown adapters with the server at run time
    cache_path: str | Path | None = None  # JSONL of finished samples; None: memory only
    extra_body: dict[str, Any] | None = None  # more fields for every request body
    api_key: str | None = None  # refused: only here to say where the key goes instead

    def __post_init__(self) -> None:
        if self.api_key is not None:  # the message never repeats the secret
            raise ConfigError(LITERAL_KEY)
        require_choices(self, WHERE)
        for key in ("concurrency", "timeout"):
            require(getattr(self, key) > 0, f"{WHERE}.{key}", getattr(self, key), "a number > 0")
        for key in ("retries", "backoff"):
            require(getattr(self, key) >= 0, f"{WHERE}.{key}", getattr(self, key), "a number >= 0")
