"""Loading Hugging Face models and tokenizers, shared by generation and training.

The `transformers` backend samples with what these load and `training.sft` fine-tunes it, so
both read a checkpoint, pick a dtype and report a missing model the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from iterdeploy.errors import ConfigError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def has_fast_bf16() -> bool:
    """Return True when this machine runs bf16 matmuls natively (CUDA, or AMX/AVX512-BF16)."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


def pick_dtype(dtype: str) -> torch.dtype:
    """Return the torch dtype for `dtype` ("auto": bf16 where it is fast, else fp32)."""
    if dtype == "auto":
        return torch.bfloat16 if has_fast_bf16() else torch.float32
    if dtype not in DTYPES:
        raise ConfigError(
            f"generation.dtype = {dtype!r} is not supported: use 'auto' or one of {list(DTYPES)}"
        )
    return DTYPES[dtype]


def is_peft_adapter(path: Path) -> bool:
    """Return True when `path` holds a PEFT adapter rather than a full checkpoint."""
    return (path / "adapter_config.json").is_file()


def load_causal_lm(
    name: str | Path, dtype: torch.dtype, device: str, trust_remote_code: bool = False
) -> PreTrainedModel:
    """Return the model `name` (hub id or directory) in eval mode on `device`."""
    try:
        model = AutoModelForCausalLM.from_pretrained(
            name, dtype=dtype, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError) as exc:
        raise _load_error(name, exc) from exc
    return model.to(device).eval()


def load_tokenizer(name: str | Path, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    """Return the tokenizer of model `name` (hub id or directory)."""
    try:
        return AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise _load_error(name, exc) from exc


def _load_error(name: str | Path, exc: Exception) -> ConfigError:
    return ConfigError(
        f"cannot load model {str(name)!r}: {exc}. Pass a local checkpoint directory or a hub id "
        "that is in the local Hugging Face cache or can be downloaded"
    )
