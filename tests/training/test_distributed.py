"""Multi-process training wiring: accelerate configs, the launch, and the empty-adapter check.

The adapters checked here are real: one trained by `training.train` (TRL + peft) on the tiny
test model, one fresh from peft (lora_B = 0), and the trained one re-saved the way DeepSpeed
ZeRO-3 saves partitioned LoRA parameters (every tensor with zero elements).
"""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from iterdeploy.errors import ConfigError, TrainingError
from iterdeploy.training.config import TrainConfig
from iterdeploy.training.distributed import (
    LaunchConfig,
    accelerate_config,
    check_adapter,
    launch_command,
    train_distributed,
)

EXAMPLES = [
    {"prompt": f"stack block b{i}", "completion": f"(pick-up b{i})\n(stack b{i} b{i + 1})"}
    for i in range(8)
]
CONFIG = TrainConfig(
    epochs=1, batch_size=2, learning_rate=1e-3, validation_fraction=0.0, dtype="float32"
)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from iterdeploy.embedded import build_random_model

    return build_random_model(tmp_path_factory.mktemp("model") / "m", seed=0, size="test")


@pytest.fixture(scope="module")
def trained(model, tmp_path_factory):
    """A LoRA adapter trained by `training.train` (one process)."""
    from iterdeploy.training.sft import train

    return train(model, EXAMPLES, CONFIG, tmp_path_factory.mktemp("trained") / "adapter").path


def test_check_adapter_accepts_a_trained_lora_adapter(trained):
    assert (trained / "adapter_config.json").is_file()
    assert check_adapter(trained) > 0


def test_check_adapter_refuses_zero_size_tensors_as_zero3_saves_them(trained, tmp_path):
    import shutil

    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    broken = tmp_path / "zero3"
    shutil.copytree(trained, broken)
    file = broken / "adapter_model.safetensors"
    with safe_open(str(file), framework="pt") as weights:
        keys = list(weights.keys())  # noqa: SIM118 - safe_open is not a mapping
    save_file({key: torch.empty(0) for key in keys}, str(file))
    with pytest.raises(TrainingError, match=rf"empty \({len(keys)} of {len(keys)} tensors.*ZeRO-3"):
        check_adapter(broken)
    save_file({}, str(file))
    with pytest.raises(TrainingError, match="no tensors at all"):
        check_adapter(broken)
    file.unlink()
    with pytest.raises(TrainingError, match="no safetensors weights"):
        check_adapter(broken)


def test_check_adapter_refuses_an_adapter_that_changes_nothing(model, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    fresh = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model), LoraConfig(r=4, target_modules="all-linear")
    )
    fresh.save_pretrained(tmp_path / "fresh")
    with pytest.raises(TrainingError, match="every lora_B matrix of the adapter is zero"):
        check_adapter(tmp_path / "fresh")


def test_accelerate_reads_the_generated_ddp_and_zero2_configs(tmp_path):
    from accelerate.commands.config.config_args import load_config_from_file

    ddp = LaunchConfig(processes=8, machines=2, machine_rank=1, main_address="10.0.0.1")
    zero2 = LaunchConfig(strategy="zero2", processes=4, mixed_precision="bf16")
    for name, launch in (("ddp", ddp), ("zero2", zero2)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(accelerate_config(launch, grad_accumulation=4)))
        loaded = load_config_from_file(str(path))
        assert loaded.num_processes == launch.processes
        assert loaded.num_machines == launch.machines
        assert loaded.main_process_ip == launch.main_address
        assert loaded.mixed_precision == launch.mixed_precision
        if name == "ddp":
            assert loaded.distributed_type == "MULTI_GPU" and loaded.machine_rank == 1
        else:
            assert loaded.distributed_type == "DEEPSPEED"
            assert loaded.deepspeed_config["zero_stage"] == 2
            assert loaded.deepspeed_config["gradient_accumulation_steps"] == 4


def test_launch_commands_run_the_worker_module_under_accelerate_or_torchrun(tmp_path):
    gpu = launch_command(LaunchConfig(processes=4), tmp_path / "a.json", tmp_path / "job")
    assert gpu[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert gpu[-3:] == ["-m", "iterdeploy.training.distributed", str(tmp_path / "job")]
    cpu = launch_command(
        LaunchConfig(processes=4, machines=2, cpu=True), tmp_path / "a.json", tmp_path / "job"
    )
    assert cpu[1:3] == ["-m", "torch.distributed.run"]
    assert "--nproc_per_node=2" in cpu and "--nnodes=2" in cpu


def test_bad_launch_settings_say_how_to_fix():
    with pytest.raises(ConfigError, match="'zero3' is not supported.*empty adapters.*'zero2'"):
        LaunchConfig(strategy="zero3")
    with pytest.raises(ConfigError, match="multiple of machines"):
        LaunchConfig(processes=3, machines=2)
    with pytest.raises(ConfigError, match="machine_rank = 2: use 0..1"):
        LaunchConfig(processes=2, machines=2, machine_rank=2)
    with pytest.raises(ConfigError, match="mixed_precision = 'fp8'"):
        LaunchConfig(mixed_precision="fp8")
    with pytest.raises(ConfigError, match="cpu = true needs strategy 'ddp'"):
        LaunchConfig(strategy="zero2", cpu=True)


def test_zero2_without_deepspeed_names_the_install(model, tmp_path):
    assert importlib.util.find_spec("deepspeed") is None, "expects the CPU env (no DeepSpeed)"
    with pytest.raises(ConfigError, match="pip install deepspeed"):
        train_distributed(model, EXAMPLES, CONFIG, tmp_path / "out", LaunchConfig("zero2"))
    assert not (tmp_path / "out").exists()
