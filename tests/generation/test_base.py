"""The backend interface: parameter checks, per-sample seeds, and the template method."""

from __future__ import annotations

import pytest

from iterdeploy.errors import BackendError, ConfigError
from iterdeploy.generation import BACKENDS
from iterdeploy.generation.base import Backend, SamplingParams, Trace, build_trace, sample_seed


class EchoBackend(Backend):
    """Returns each prompt with its sample seed, to observe what `generate` passes through."""

    def __init__(self, drop_last: bool = False) -> None:
        self.drop_last = drop_last
        self.closed = False

    def _generate(self, prompts, params, seeds, adapter):
        out = [
            [Trace(f"{p}:{sample_seed(s, j)}", "", "", 0, 1, False, 0.0) for j in range(params.n)]
            for p, s in zip(prompts, seeds, strict=True)
        ]
        return out[:-1] if self.drop_last else out

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("key", "value"),
    [("n", 0), ("temperature", -0.1), ("top_p", 0.0), ("top_p", 1.5), ("top_k", -1),
     ("max_tokens", 0)],
)  # fmt: skip
def test_sampling_params_reject_bad_values_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=f"generation.{key}"):
        SamplingParams(**{key: value})


def test_sampling_params_greedy_only_at_temperature_zero():
    assert SamplingParams(temperature=0).greedy
    assert not SamplingParams(temperature=0.6).greedy


def test_sample_seed_depends_only_on_prompt_seed_and_index():
    seeds = {sample_seed(s, j) for s in range(50) for j in range(8)}
    assert len(seeds) == 400
    assert all(0 <= s < 2**63 for s in seeds)
    assert sample_seed(3, 2) == sample_seed(3, 2)


def test_generate_returns_n_traces_per_prompt_in_order_and_closes_as_context_manager():
    with EchoBackend() as backend:
        traces = backend.generate(["a", "b"], SamplingParams(n=3), seeds=[1, 2])
    assert [[t.text for t in row] for row in traces] == [
        [f"a:{sample_seed(1, j)}" for j in range(3)],
        [f"b:{sample_seed(2, j)}" for j in range(3)],
    ]
    assert backend.closed


def test_generate_needs_one_seed_per_prompt():
    with pytest.raises(ConfigError, match="2 prompts but 1 seeds"):
        EchoBackend().generate(["a", "b"], SamplingParams(), seeds=[1])


def test_generate_reports_a_backend_that_returns_the_wrong_shape():
    with pytest.raises(BackendError, match="returned"):
        EchoBackend(drop_last=True).generate(["a", "b"], SamplingParams(), seeds=[1, 2])


def test_empty_prompt_list_gives_empty_result():
    assert EchoBackend().generate([], SamplingParams(), seeds=[]) == []


def test_registry_lists_all_backends_and_suggests_close_names():
    assert BACKENDS.names() == ["fake", "openai", "transformers", "vllm"]
    with pytest.raises(ConfigError, match="Did you mean 'transformers'"):
        BACKENDS.get("transformer")


@pytest.fixture(scope="module")
def count_tokens(tmp_path_factory):
    from transformers import AutoTokenizer

    from iterdeploy.embedded import build_random_model

    tokenizer = AutoTokenizer.from_pretrained(build_random_model(tmp_path_factory.mktemp("m")))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))


def trace_of(text, count_tokens, truncated=False):
    return build_trace(
        text, count_tokens=count_tokens, output_tokens=99, truncated=truncated, seconds=0.5
    )


def test_qwen3_thinking_output_without_opening_tag_splits_at_the_closing_one(count_tokens):
    text = (
        "Okay, b1 sits on b2 and the goal wants b2 on b1. So first unstack b1.\n"
        "</think>\n\n(unstack b1 b2)\n(putdown b1)\n(pickup b2)\n(stack b2 b1)"
    )
    trace = trace_of(text, count_tokens)
    assert (
        trace.reasoning == "Okay, b1 sits on b2 and the goal wants b2 on b1. So first unstack b1."
    )
    assert trace.answer.strip().splitlines()[0] == "(unstack b1 b2)"
    assert trace.reasoning_tokens == count_tokens(trace.reasoning) > 10
    assert (trace.output_tokens, trace.truncated, trace.seconds) == (99, False, 0.5)


def test_output_with_opening_tag_drops_the_tags_from_the_reasoning(count_tokens):
    trace = trace_of("<think>\nshort\n</think>\n(pickup a)", count_tokens)
    assert trace.reasoning == "short"
    assert trace.reasoning_tokens == count_tokens("short")


def test_think_tags_inside_the_reasoning_or_plan_split_at_the_last_closing_tag(count_tokens):
    text = "I will write </think> later.\n</think>\n(pickup a)\n<think>\n(stack a b)"
    trace = trace_of(text, count_tokens)
    assert trace.reasoning == "I will write </think> later."
    assert trace.answer == "\n(pickup a)\n<think>\n(stack a b)"


def test_truncated_output_without_closing_tag_has_no_reasoning_and_keeps_the_text(count_tokens):
    text = "Okay, let me think. The arm is empty, b1 is clear, so I could pick"
    trace = trace_of(text, count_tokens, truncated=True)
    assert (trace.reasoning, trace.reasoning_tokens) == ("", 0)
    assert trace.answer == text == trace.text
    assert trace.truncated
