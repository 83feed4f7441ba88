"""Tiny Qwen3-architecture causal LMs built locally: no hub, no downloaded weights.

`build_random_model` saves a random-init model plus a locally trained tokenizer as a standard
Hugging Face directory in about a second: tests and benchmarks use it wherever a real model
directory is needed. The embedded default model (`iterdeploy.embedded.cache`) starts from the
same builder and then pretrains the weights.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

import torch
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

from iterdeploy.embedded.config import SIZES, ModelSize
from iterdeploy.embedded.tokenizer import IM_END, PAD, seed_corpus, train_tokenizer
from iterdeploy.errors import ConfigError

log = logging.getLogger(__name__)


def make_model(tokenizer: PreTrainedTokenizerFast, size: ModelSize, seed: int) -> Qwen3ForCausalLM:
    """Return a random-init Qwen3 model for `tokenizer`, initialised from `seed` alone."""
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden_size,
        intermediate_size=size.intermediate_size,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.kv_heads,
        head_dim=size.head_dim,
        max_position_embeddings=size.max_positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.convert_tokens_to_ids(PAD),
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        bos_token_id=None,
    )
    # fork_rng: the seed decides the weights without touching the caller's global RNG state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen3ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id, do_sample=True
    )
    return model


def build_random_model(
    out_dir: str | Path,
    seed: int = 0,
    size: str = "test",
    texts: Iterable[str] | None = None,
) -> Path:
    """Return `out_dir` after saving a random-init tiny Qwen3 model and its tokenizer there.

    Args:
        size: a key of `SIZES`.
        texts: the tokenizer's training corpus; by default PDDL-flavoured lines (`seed_corpus`).
    """
    if size not in SIZES:
        raise ConfigError(f"unknown model size {size!r}: use one of {', '.join(SIZES)}")
    out = Path(out_dir)
    shape = SIZES[size]
    tokenizer = train_tokenizer(seed_corpus(seed) if texts is None else texts, shape.vocab_size)
    model = make_model(tokenizer, shape, seed)
    save_model(model, tokenizer, out)
    params = sum(p.numel() for p in model.parameters())
    log.info(
        "built random %s model: %d parameters, %d tokens -> %s", size, params, len(tokenizer), out
    )
    return out


def save_model(model: Qwen3ForCausalLM, tokenizer: PreTrainedTokenizerFast, out: Path) -> None:
    """Save `model` (safetensors) and `tokenizer` into `out` as a standard HF directory."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def size_dict(size: str) -> dict[str, int]:
    """Return the fields of the size preset `size` (for config digests)."""
    return asdict(SIZES[size])
