"""The transformers backend on a real (random-init) tiny Qwen3 model: shapes, seeds, stops."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from transformers import AutoModelForCausalLM

from iterdeploy.embedded import build_random_model
from iterdeploy.errors import ConfigError
from iterdeploy.generation import BACKENDS
from iterdeploy.generation.base import SamplingParams
from iterdeploy.generation.hf import (
    TransformersBackend,
    _Row,
    decode_batch,
    pick_dtype,
    sample_tokens,
    sampling_dtype,
)
from iterdeploy.hfmodels import has_fast_bf16

PROMPTS = [
    "domain: blocksworld\ninit: (arm-empty) (clear b1) (on b1 b2) (on-table b2)\ngoal: (on b2 b1)",
    "domain: gripper\ngoal: (at ball1 roomb)",
    "hi",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_random_model(tmp_path_factory.mktemp("model") / "m", seed=0)


@pytest.fixture(scope="module")
def backend(model_dir):
    with TransformersBackend(model_dir, batch_size=8) as backend:
        yield backend


def texts(traces):
    return [[t.text for t in row] for row in traces]


def test_registry_entry_is_the_transformers_backend():
    assert BACKENDS.get("transformers") is TransformersBackend


def test_generate_returns_n_decoded_traces_within_the_token_limit(backend):
    params = SamplingParams(n=3, temperature=1.0, max_tokens=12)
    traces = backend.generate(PROMPTS, params, seeds=[1, 2, 3])
    assert [len(row) for row in traces] == [3, 3, 3]
    for trace in (t for row in traces for t in row):
        assert 1 <= trace.output_tokens <= 12
        assert trace.truncated == (trace.output_tokens == 12 and "<|im_end|>" not in trace.text)
        assert trace.answer in trace.text  # no </think> or a split at the last one
        assert trace.seconds > 0
    assert len({t.text for row in traces for t in row}) > 6  # samples differ


def test_sample_depends_only_on_its_seed_and_index_not_on_the_batch(model_dir, backend):
    """Holds on CPU in fp32, the default there; bf16 failed it on an AVX512-BF16 CPU."""
    assert backend.dtype == torch.float32 and backend.device == "cpu"
    params = SamplingParams(n=4, temperature=1.0, top_p=0.95, top_k=50, max_tokens=16)
    together = backend.generate(PROMPTS, params, seeds=[10, 11, 12])
    alone = backend.generate(PROMPTS[1:2], params, seeds=[11])
    assert texts(alone)[0] == texts(together)[1]
    with TransformersBackend(model_dir, batch_size=1) as one_by_one:
        assert texts(one_by_one.generate(PROMPTS, params, seeds=[10, 11, 12])) == texts(together)
    other_seed = backend.generate(PROMPTS[1:2], params, seeds=[99])
    assert texts(other_seed)[0] != texts(together)[1]


def test_greedy_decoding_gives_identical_samples(backend):
    params = SamplingParams(n=3, temperature=0, max_tokens=10)
    (row,) = backend.generate(PROMPTS[:1], params, seeds=[5])
    assert row[0].text == row[1].text == row[2].text


def test_finished_rows_leave_the_batch_without_changing_the_others(model_dir):
    """Rows that stop early are pruned from the KV cache; the rest must decode as if alone."""
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    ids = [[5, 6, 7, 8, 9, 10], [11, 12], [13, 14, 15, 16]]
    rows = [_Row(i, 0, row, 30) for i, row in enumerate(ids)]
    uniforms = [torch.rand(30, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    params = SamplingParams(temperature=1.0)
    stops = list(range(20, 200))  # common enough that rows stop at different steps
    batch = decode_batch(model, rows, uniforms, params, stops, pad=0)
    alone = [
        decode_batch(model, [r], [u], params, stops, pad=0)[0]
        for r, u in zip(rows, uniforms, strict=True)
    ]
    assert batch == alone
    assert len({len(ids) for ids, _ in batch}) > 1  # the rows did finish at different steps
    for ids, stopped in batch:
        assert stopped == (ids[-1] in stops)
        assert all(token not in stops for token in ids[:-1])


def test_sample_tokens_inverts_the_cdf_exactly():
    logits = torch.log(torch.tensor([[0.1, 0.2, 0.7]])).repeat(1000, 1)
    u = (torch.arange(1000, dtype=torch.float64) + 0.5) / 1000
    counts = torch.bincount(sample_tokens(logits, SamplingParams(temperature=1.0), u), minlength=3)
    assert counts.tolist() == [100, 200, 700]
    top_p = sample_tokens(logits, SamplingParams(temperature=1.0, top_p=0.75), u)
    assert set(top_p.tolist()) == {1, 2}  # 0.7 alone is < 0.75, so 0.2 joins; 0.1 is cut
    top_k = sample_tokens(logits, SamplingParams(temperature=1.0, top_k=1), u)
    assert set(top_k.tolist()) == {2}
    greedy = sample_tokens(logits[:1], SamplingParams(temperature=0), u[:1])
    assert greedy.tolist() == [2]


def test_dtype_follows_the_hardware_unless_given():
    assert pick_dtype("auto") == (torch.bfloat16 if has_fast_bf16() else torch.float32)
    assert pick_dtype("float32") == torch.float32
    with pytest.raises(ConfigError, match="'auto' or one of"):
        pick_dtype("fp8")


def test_sampling_on_cpu_is_fp32_even_where_bf16_is_native():
    assert sampling_dtype("auto", "cpu") == torch.float32  # whatever has_fast_bf16() says
    assert sampling_dtype("bfloat16", "cpu") == torch.bfloat16  # asked for: no guarantee
    with pytest.raises(ConfigError, match="'auto' or one of"):
        sampling_dtype("fp8", "cpu")


def test_bad_model_adapter_and_prompt_give_clear_errors(tmp_path, backend):
    with pytest.raises(ConfigError, match="cannot load model"):
        TransformersBackend(tmp_path)
    with pytest.raises(ConfigError, match="is not a directory"):
        backend.generate(["x"], SamplingParams(), seeds=[0], adapter=tmp_path / "missing")
    with pytest.raises(ConfigError, match="fills the model's context"):
        backend.generate(["(on a b) " * 1000], SamplingParams(), seeds=[0])


def test_missing_torch_names_the_extra_to_install():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from iterdeploy.generation import BACKENDS\n"
        "BACKENDS.get('transformers')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    assert "pip install 'iterdeploy[hf]'" in result.stderr
