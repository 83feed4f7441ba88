"""Random-init tiny models: a standard HF directory, seeded, with a Qwen3-style chat template."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from iterdeploy.embedded import build_random_model
from iterdeploy.errors import ConfigError


def test_random_model_is_a_standard_hf_directory(tmp_path):
    path = build_random_model(tmp_path / "m", seed=0)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.config.model_type == "qwen3"
    assert model.config.vocab_size == len(tokenizer)
    assert (path / "model.safetensors").is_file()
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "(on a b)"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt == "<|im_start|>user\n(on a b)<|im_end|>\n<|im_start|>assistant\n<think>\n"
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.convert_tokens_to_ids("</think>") != tokenizer.unk_token_id
    step = "(unstack b1 b2)"
    assert tokenizer.decode(tokenizer.encode(step, add_special_tokens=False)) == step


def test_same_seed_gives_same_weights_and_leaves_global_rng_alone(tmp_path):
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = AutoModelForCausalLM.from_pretrained(build_random_model(tmp_path / "a", seed=5))
    assert torch.rand(1) == before
    b = AutoModelForCausalLM.from_pretrained(build_random_model(tmp_path / "b", seed=5))
    c = AutoModelForCausalLM.from_pretrained(build_random_model(tmp_path / "c", seed=6))
    wa, wb, wc = (m.model.layers[0].mlp.up_proj.weight for m in (a, b, c))
    assert torch.equal(wa, wb)
    assert not torch.equal(wa, wc)


def test_unknown_size_names_the_choices(tmp_path):
    with pytest.raises(ConfigError, match="test"):
        build_random_model(tmp_path, size="huge")
