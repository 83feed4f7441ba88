"""Fine-tuning for real (TRL SFTTrainer, peft) on a tiny random-init Qwen3 model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from iterdeploy.embedded import build_random_model
from iterdeploy.errors import ConfigError, TrainingError
from iterdeploy.generation.base import SamplingParams
from iterdeploy.generation.hf import TransformersBackend
from iterdeploy.training.config import TrainConfig
from iterdeploy.training.sft import split_rows, train, weights_digest

EXAMPLES = [
    {
        "prompt": f"domain: blocksworld\ngoal: (on b{i} b{i + 1})",
        "completion": f"b{i} is clear.\n</think>\n(pickup b{i})\n(stack b{i} b{i + 1})",
    }
    for i in range(1, 9)
]
FAST = {"learning_rate": 5e-3, "epochs": 1, "logging_steps": 1}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_random_model(tmp_path_factory.mktemp("base") / "m", seed=0)


@pytest.fixture(scope="module")
def lora(base, tmp_path_factory):
    out = tmp_path_factory.mktemp("lora") / "adapter"
    return train(base, EXAMPLES, TrainConfig(method="lora", **FAST), out)


@pytest.fixture(scope="module")
def full(base, tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "checkpoint"
    return train(base, EXAMPLES, TrainConfig(method="full", **FAST), out)


def sampled(model_dir, adapter=None):
    """Return texts sampled with fixed seeds: they change when the distribution does."""
    with TransformersBackend(model_dir, batch_size=4) as backend:
        params = SamplingParams(n=1, temperature=1.0, max_tokens=24)
        prompts = [e["prompt"] for e in EXAMPLES[:4]]
        return [
            row[0].text for row in backend.generate(prompts, params, seeds=[0] * 4, adapter=adapter)
        ]


def test_lora_trains_only_adapter_weights_and_they_moved_from_init(lora):
    weights = load_file(lora.path / "adapter_model.safetensors")
    assert weights and all("lora_" in name for name in weights)
    b_matrices = [w for name, w in weights.items() if "lora_B" in name]
    assert b_matrices and all(w.abs().sum() > 0 for w in b_matrices)  # lora_B starts at zero
    assert json.loads((lora.path / "adapter_config.json").read_text())["r"] == 16


def test_full_fine_tune_changes_every_trainable_matrix(base, full):
    before = load_file(base / "model.safetensors")
    after = load_file(full.path / "model.safetensors")
    assert before.keys() == after.keys()
    changed = [name for name in before if not torch.equal(before[name], after[name])]
    assert len(changed) == len(before)


def test_result_records_digest_curves_and_config(lora):
    record = json.loads((lora.path / "train.json").read_text())
    assert lora.kind == record["kind"] == "lora"
    assert lora.digest == record["digest"] == weights_digest(lora.path)
    assert (record["examples"], record["validation_examples"]) == (7, 1)  # 10% of 8, rounded
    assert len(lora.losses) == 7 and len(lora.eval_losses) == 1  # one step per example, 1 epoch
    assert lora.tokens > 7 * 10
    assert record["config"]["lora_alpha"] == 32
    assert lora.wall_seconds > 0


def test_adapter_and_full_checkpoint_reload_in_the_backend_and_change_outputs(base, lora, full):
    before = sampled(base)
    assert sampled(base, adapter=lora.path) != before
    assert sampled(base, adapter=full.path) != before
    assert sampled(base) == before  # the base model is untouched


def test_training_is_deterministic_and_seeded(base, lora, tmp_path):
    again = train(base, EXAMPLES, TrainConfig(method="lora", **FAST), tmp_path / "again")
    assert again.digest == lora.digest
    assert again.losses == lora.losses
    other = train(base, EXAMPLES, TrainConfig(method="lora", seed=1, **FAST), tmp_path / "other")
    assert other.digest != lora.digest


def test_trained_model_writes_the_trace_format_it_was_taught(base, tmp_path):
    """Prompt rendering at training and generation time must agree for this to work."""
    example = EXAMPLES[0]
    config = TrainConfig(method="full", learning_rate=3e-3, epochs=60, validation_fraction=0)
    result = train(base, [example], config, tmp_path / "memorised")
    with TransformersBackend(base) as backend:
        params = SamplingParams(n=2, temperature=0, max_tokens=40)
        (row,) = backend.generate([example["prompt"]], params, seeds=[0], adapter=result.path)
    trace = row[0]
    assert trace.text == example["completion"]
    assert not trace.truncated  # it stopped at <|im_end|>, which TRL appended in training
    assert trace.reasoning == "b1 is clear."
    assert trace.answer.split() == ["(pickup", "b1)", "(stack", "b1", "b2)"]


def test_an_adapter_is_refused_as_base(base, lora, tmp_path):
    with pytest.raises(TrainingError, match="never stacked"):
        train(lora.path, EXAMPLES, TrainConfig(**FAST), tmp_path / "stacked")


def test_bad_examples_and_config_are_reported_and_leave_the_output_alone(base, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous generation")
    with pytest.raises(TrainingError, match="curated set is empty"):
        train(base, [], TrainConfig(), out)
    with pytest.raises(ConfigError, match="example 1 must map"):
        train(base, [EXAMPLES[0], {"prompt": "p"}], TrainConfig(), out)
    with pytest.raises(ConfigError, match="cannot load model"):
        train(tmp_path / "no-model", EXAMPLES, TrainConfig(), out)
    assert (out / "keep.txt").read_text() == "previous generation"
    with pytest.raises(ConfigError, match="training.method"):
        TrainConfig(method="qlora")
    with pytest.raises(ConfigError, match="training.learning_rate = -1.*default is 1e-05"):
        TrainConfig(learning_rate=-1)


def test_validation_split_is_seeded_and_leaves_a_training_example():
    rows = [{"prompt": str(i), "completion": "c"} for i in range(30)]
    train_rows, held = split_rows(rows, 0.1, seed=3)
    assert len(held) == 3 and len(train_rows) == 27
    assert split_rows(rows, 0.1, seed=3) == (train_rows, held)
    assert split_rows(rows, 0.1, seed=4)[1] != held
    assert split_rows(rows[:1], 0.5, seed=0) == (rows[:1], [])


def test_missing_peft_names_the_extra_to_install():
    code = (
        "import sys; sys.modules['peft'] = None\n"
        "from iterdeploy.registry import load_object\n"
        "load_object('iterdeploy.training.sft:train', what='training')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    assert "pip install 'iterdeploy[train]'" in result.stderr


def test_max_steps_caps_a_round_and_tokens_count_what_was_trained(base, full, tmp_path):
    # 8 examples, batch 1, 1 epoch = 8 steps (the `full` fixture, no validation split: 10% of 8
    # rounds to 1, so 7 steps); a cap of 3 stops after 3 steps, a cap of 50 does not bind.
    config = TrainConfig(method="full", **FAST, max_steps=3)
    capped = train(base, EXAMPLES, config, tmp_path / "capped")
    assert [step for step, _ in capped.losses] == [1, 2, 3]
    assert capped.tokens == pytest.approx(full.tokens * 3 / 7, abs=1)  # 3 of 7 steps
    loose = train(base, EXAMPLES, TrainConfig(method="full", **FAST, max_steps=50), tmp_path / "l")
    assert loose.losses == full.losses and loose.tokens == full.tokens
    with pytest.raises(ConfigError, match="training.max_steps"):
        TrainConfig(max_steps=-1)
