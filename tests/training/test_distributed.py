"""Multi-process training: a real 2-process DDP run, accelerate configs, the empty-adapter check.

The DDP run is the command a GPU machine runs (`accelerate launch` of the generated config);
without GPUs accelerate runs it as gloo DDP over CPU processes. The adapters checked are real:
one trained by `training.train` (TRL + peft) on the tiny test model, one fresh from peft
(lora_B = 0), the trained one with its weights zeroed, and the trained one re-saved the way
DeepSpeed ZeRO-3 saves partitioned LoRA parameters (every tensor with zero elements).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import socket
import sys
import time

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from iterdeploy.errors import ConfigError, TrainingError
from iterdeploy.training.config import TrainConfig
from iterdeploy.training.distributed import (
    LaunchConfig,
    accelerate_config,
    check_adapter,
    collect,
    launch_command,
    tail,
    train_distributed,
)
from iterdeploy.training.sft import train, weights_digest

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


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 now (for a rendezvous of the test's own)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def trained(model, tmp_path_factory):
    """A LoRA adapter trained by `training.train` (one process)."""
    return train(model, EXAMPLES, CONFIG, tmp_path_factory.mktemp("trained") / "adapter").path


@pytest.fixture(scope="module")
def ddp(model, tmp_path_factory):
    """`training.train` with a [training.launch] table: 2 processes under `accelerate launch`."""
    launch = LaunchConfig(processes=2, mixed_precision="no", main_port=free_port())
    config = dataclasses.replace(CONFIG, logging_steps=1, launch=launch)
    out = tmp_path_factory.mktemp("ddp") / "adapter"
    for leftover in (out / "stale.txt", out.with_name("adapter.job") / "rank5" / "result.json"):
        leftover.parent.mkdir(parents=True, exist_ok=True)  # as a killed attempt leaves them
        leftover.write_text("{}")
    start = time.perf_counter()
    return train(model, EXAMPLES, config, out), time.perf_counter() - start


def test_two_process_ddp_shards_the_batches_and_saves_a_checked_adapter(ddp, model):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result, seconds = ddp
    out = result.path
    # 8 examples, 2 per process and step: 2 optimizer steps (one process would take 4). Every
    # rank, rank 1 included, trained and saved, or the launch would have failed.
    assert [step for step, _ in result.losses] == [1, 2]
    assert all(loss > 0 for _, loss in result.losses)
    assert result.kind == "lora" and check_adapter(out) > 0
    assert result.digest == weights_digest(out)
    record = json.loads((out / "train.json").read_text())
    assert record["digest"] == result.digest
    assert record["losses"] == [list(p) for p in result.losses]
    assert record["config"]["launch"]["processes"] == 2
    assert 0 < result.wall_seconds <= seconds
    assert not out.with_name(out.name + ".job").exists()  # the job folder went with success
    assert not (out / "stale.txt").exists()  # out_dir was replaced, not merged into
    base = AutoModelForCausalLM.from_pretrained(model)
    tokens = torch.arange(1, 17).unsqueeze(0)
    before = base(tokens).logits
    tuned = PeftModel.from_pretrained(base, out)
    assert not torch.allclose(tuned(tokens).logits, before)  # loadable, and it changes the model


def zero_weights(adapter, folder):
    """Copy `adapter` to `folder` with every weight set to zero (shapes kept); return it."""
    shutil.copytree(adapter, folder)
    file = folder / "adapter_model.safetensors"
    with safe_open(str(file), framework="pt") as weights:
        zeroed = {k: torch.zeros_like(weights.get_tensor(k)) for k in weights.keys()}  # noqa: SIM118
    save_file(zeroed, str(file))
    return folder


def test_an_adapter_with_zeroed_weights_fails_the_check_and_the_collection(ddp, tmp_path):
    adapter = ddp[0].path
    with pytest.raises(TrainingError, match="every lora_B matrix of the adapter is zero"):
        check_adapter(zero_weights(adapter, tmp_path / "zeroed"))
    job, out = tmp_path / "g1.job", tmp_path / "g1"
    for rank in (0, 1):  # both ranks agree, on a useless adapter
        model = zero_weights(adapter, job / f"rank{rank}" / "model")
        (job / f"rank{rank}" / "result.json").write_text(
            json.dumps({"digest": weights_digest(model)})
        )
    with pytest.raises(TrainingError, match="every lora_B matrix"):
        collect(job, out, LaunchConfig(processes=2), time.perf_counter())
    assert not out.exists()


def test_check_adapter_accepts_a_trained_lora_adapter(trained):
    assert (trained / "adapter_config.json").is_file()
    assert check_adapter(trained) > 0


def test_check_adapter_refuses_zero_size_tensors_as_zero3_saves_them(trained, tmp_path):
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
    assert gpu[-3:] == ["-m", "iterdeploy.training.worker", str(tmp_path / "job")]
    cpu = launch_command(
        LaunchConfig(processes=4, machines=2, cpu=True), tmp_path / "a.json", tmp_path / "job"
    )
    assert cpu[1:3] == ["-m", "torch.distributed.run"]
    assert "--nproc_per_node=2" in cpu and "--nnodes=2" in cpu


def test_bad_launch_settings_say_how_to_fix():
    with pytest.raises(ConfigError, match="'zero3' is not allowed.*empty adapters.*'zero2'"):
        LaunchConfig(strategy="zero3")
    with pytest.raises(ConfigError, match="multiple of machines"):
        LaunchConfig(processes=3, machines=2)
    with pytest.raises(ConfigError, match=r"machine_rank = 2 is not allowed: expected 0\.\.1"):
        LaunchConfig(processes=2, machines=2, machine_rank=2)
    with pytest.raises(ConfigError, match="mixed_precision = 'fp8'"):
        LaunchConfig(mixed_precision="fp8")
    with pytest.raises(ConfigError, match="cpu = True is not allowed: expected false unless"):
        LaunchConfig(strategy="zero2", cpu=True)


def test_accelerate_launch_turns_the_zero2_config_into_a_deepspeed_stage_2_config(
    tmp_path, monkeypatch
):
    """What `accelerate launch` does with our ZeRO-2 config up to starting DeepSpeed itself."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import DeepSpeedPlugin
    from accelerate.utils.launch import prepare_deepspeed_cmd_env

    launch = LaunchConfig(strategy="zero2", processes=4)
    config_file = tmp_path / "accelerate.json"
    config_file.write_text(json.dumps(accelerate_config(launch, grad_accumulation=4)))
    command = launch_command(launch, config_file, tmp_path / "job")
    args, defaults, _ = _validate_launch_command(launch_command_parser().parse_args(command[3:]))
    assert args.use_deepspeed and args.num_processes == 4 and args.module
    # accelerate's own launch_command sets this before it calls the DeepSpeed launcher:
    args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
    _, env = prepare_deepspeed_cmd_env(args)
    for key, value in env.items():
        if key.startswith("ACCELERATE_"):
            monkeypatch.setenv(key, value)
    deepspeed = DeepSpeedPlugin().deepspeed_config  # what each process hands DeepSpeed
    assert deepspeed["zero_optimization"]["stage"] == 2
    assert deepspeed["zero_optimization"]["offload_optimizer"]["device"] == "none"
    assert deepspeed["zero_optimization"]["offload_param"]["device"] == "none"
    assert deepspeed["gradient_accumulation_steps"] == 4


def test_zero2_without_deepspeed_names_the_install(model, tmp_path):
    assert importlib.util.find_spec("deepspeed") is None, "expects the CPU env (no DeepSpeed)"
    with pytest.raises(ConfigError, match="pip install deepspeed"):
        train_distributed(model, EXAMPLES, CONFIG, tmp_path / "out", LaunchConfig("zero2"))
    zero2 = dataclasses.replace(CONFIG, launch=LaunchConfig("zero2"))
    with pytest.raises(ConfigError, match="strategy = 'zero2' needs DeepSpeed"):
        train(model, EXAMPLES, zero2, tmp_path / "out")  # the run config's path
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.job").exists()


def test_a_failed_launch_quotes_the_ranks_error_not_only_torchruns_summary(tmp_path):
    log = tmp_path / "launch.log"
    log.write_text(
        "INFO: step 1/2: loss 6.2\n"
        "[rank1]: Traceback (most recent call last):\n"
        '[rank1]:   File "sft.py", line 116, in train\n'
        "[rank1]: iterdeploy.errors.TrainingError: no safetensors weights were saved\n"
        + "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:\n"
        * 30
    )
    message = tail(log)
    assert str(log) in message and "TrainingError: no safetensors weights" in message
    assert "ChildFailedError" not in message
    log.write_text("accelerate: no such file\n")
    assert tail(log).endswith("accelerate: no such file")
