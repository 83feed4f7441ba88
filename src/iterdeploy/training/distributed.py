"""Fine-tuning on several GPUs (or machines) with accelerate: DDP or DeepSpeed ZeRO-2.

`train_distributed` writes the job (base, examples, `TrainConfig`) to a folder, starts
`accelerate launch -m iterdeploy.training.worker JOB` with a generated accelerate config,
and every process runs the ordinary in-process `training.train` on its share of the batches.
`training.train` itself comes here when the config has a `[training.launch]` table, so the
loop's train stage needs no other code path. Each rank saves into its own folder; rank 0's
becomes the result once the checks pass:
- every rank saved the same weights (DDP and ZeRO-2 keep full replicas of the parameters);
- the adapter is not empty. ZeRO-3 partitions the parameters, and a LoRA adapter saved without
  gathering them holds zero-size tensors: a silent, useless adapter. `check_adapter` refuses it
  (and an adapter whose lora_B matrices are all zero, which changes nothing), whatever launched
  the training. ZeRO-3 is therefore not offered here.
`cpu=True` runs the same job as gloo DDP over CPU processes (torch.distributed.run). Without
GPUs, `accelerate launch` of the generated DDP config also falls back to gloo on the CPU, which
is how the tests run the exact command a GPU machine runs.
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from iterdeploy.errors import ConfigError, TrainingError
from iterdeploy.training.config import LaunchConfig, TrainConfig
from iterdeploy.training.result import TrainResult, replace_dir

log = logging.getLogger(__name__)


def accelerate_config(launch: LaunchConfig, grad_accumulation: int = 1) -> dict[str, Any]:
    """Return the accelerate config (what `accelerate config` would write) for `launch`."""
    config: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "MULTI_GPU" if launch.strategy == "ddp" else "DEEPSPEED",
        "mixed_precision": launch.mixed_precision,
        "use_cpu": False,
        "debug": False,
        "num_processes": launch.processes,
        "num_machines": launch.machines,
        "machine_rank": launch.machine_rank,
        "main_process_ip": launch.main_address,
        "main_process_port": launch.main_port,
        "rdzv_backend": "static",
        "same_network": True,
        "gpu_ids": "all",
    }
    if launch.strategy == "zero2":
        config["deepspeed_config"] = {
            "zero_stage": 2,
            "offload_optimizer_device": "none",
            "offload_param_device": "none",
            "gradient_accumulation_steps": grad_accumulation,
            "zero3_init_flag": False,
        }
    return config


def launch_command(launch: LaunchConfig, config_file: Path, job: Path) -> list[str]:
    """Return the command that runs the worker of `job` on this machine's processes."""
    worker = ["-m", "iterdeploy.training.worker", str(job)]
    if launch.cpu:
        per_machine = launch.processes // launch.machines
        return [
            sys.executable, "-m", "torch.distributed.run",
            f"--nproc_per_node={per_machine}", f"--nnodes={launch.machines}",
            f"--node_rank={launch.machine_rank}", f"--master_addr={launch.main_address}",
            f"--master_port={launch.main_port}", *worker,
        ]  # fmt: skip
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_file),
            *worker]  # fmt: skip


def train_distributed(
    base: str | Path,
    examples: list[dict[str, str]],
    config: TrainConfig,
    out_dir: str | Path,
    launch: LaunchConfig,
) -> TrainResult:
    """Return the `TrainResult` of fine-tuning `base` on `examples` over `launch`'s processes.

    `out_dir` is replaced only when every process finished and the saved weights pass the
    checks; on failure it is untouched and `TrainingError` quotes the end of the launch log
    (kept in `<out_dir>.job/launch.log`). `wall_seconds` covers the whole launch, process
    start-up included; `train.json` records the launch settings too.
    """
    if launch.strategy == "zero2":
        require_deepspeed()
    start = time.perf_counter()
    out = Path(out_dir)
    job = out.with_name(out.name + ".job")
    shutil.rmtree(job, ignore_errors=True)
    job.mkdir(parents=True)
    (job / "examples.jsonl").write_text("".join(json.dumps(e) + "\n" for e in examples))
    spec = {"base": str(base), "config": asdict(replace(config, launch=None))}  # in-process
    (job / "job.json").write_text(json.dumps(spec, indent=1) + "\n")
    config_file = job / "accelerate.json"
    config_file.write_text(json.dumps(accelerate_config(launch, config.grad_accumulation)) + "\n")
    command = launch_command(launch, config_file, job)
    log.info("training on %d processes (%s): %s", launch.processes, launch.strategy,
             " ".join(command))  # fmt: skip
    with open(job / "launch.log", "wb") as out_log:
        code = subprocess.run(
            command, stdout=out_log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent()
        ).returncode
    if code != 0:
        raise TrainingError(
            f"the distributed training exited with code {code}.{tail(job / 'launch.log')}"
        )
    return collect(job, out, launch, start)


def collect(job: Path, out: Path, launch: LaunchConfig, start: float) -> TrainResult | None:
    """Check the ranks' saved weights and move rank 0's into `out`; return its TrainResult.

    `start` is the `time.perf_counter()` of the launch, for the result's `wall_seconds`.
    """
    if launch.machine_rank != 0:  # rank 0 lives on machine 0, which collects
        return None
    ranks = sorted(job.glob("rank*/result.json"))
    results = [json.loads(p.read_text()) for p in ranks]
    local = launch.processes // launch.machines
    if len(results) != local:
        raise TrainingError(
            f"{job}: {len(results)} of {local} processes wrote a result.{tail(job / 'launch.log')}"
        )
    digests = {r["digest"] for r in results}
    if len(digests) != 1:
        raise TrainingError(
            f"{job}: the processes saved different weights ({len(digests)} digests); the "
            "replicas diverged, which DDP and ZeRO-2 must not allow. Check the launch log"
        )
    first = job / "rank0" / "model"
    check_adapter(first)
    record, wall = results[0], time.perf_counter() - start
    train_json = json.loads((first / "train.json").read_text())
    train_json["config"]["launch"] = asdict(launch)  # the ranks ran it in-process
    train_json["wall_seconds"] = round(wall, 3)
    (first / "train.json").write_text(json.dumps(train_json, indent=1) + "\n")
    replace_dir(first, out)
    shutil.rmtree(job, ignore_errors=True)
    return TrainResult(
        path=out,
        digest=record["digest"],
        kind=record["kind"],
        losses=tuple(map(tuple, record["losses"])),
        eval_losses=tuple(map(tuple, record["eval_losses"])),
        wall_seconds=wall,
        tokens=record["tokens"],
    )


def check_adapter(path: str | Path) -> int:
    """Return the number of tensors of the LoRA adapter in `path`; raise if it is unusable.

    Unusable: no adapter weights file, a file without tensors, zero-size tensors (what ZeRO-3
    saves from partitioned parameters), or lora_B matrices that are all zero (the adapter adds
    nothing to the base model). A folder without adapter_config.json is a full checkpoint and is
    only checked for non-empty weights.
    """
    from safetensors import safe_open

    folder = Path(path)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise TrainingError(f"{folder}: no safetensors weights were saved; the training failed")
    count, empty, lora_b, nonzero_b = 0, [], 0, 0
    for file in files:
        with safe_open(str(file), framework="pt") as weights:
            for key in weights.keys():  # noqa: SIM118 - safe_open is not a mapping
                count += 1
                tensor = weights.get_tensor(key)
                if tensor.numel() == 0:
                    empty.append(f"{key} {list(tensor.shape)}")
                elif "lora_B" in key:
                    lora_b += 1
                    nonzero_b += bool(tensor.any())
    if count == 0 or empty:
        shown = "; ".join(empty[:3]) or "no tensors at all"
        raise TrainingError(
            f"{folder}: the saved adapter is empty ({len(empty)} of {count} tensors have no "
            f"elements: {shown}). DeepSpeed ZeRO-3 saves LoRA adapters like this from its "
            "partitioned parameters: train with strategy 'ddp' or 'zero2'"
        )
    if (folder / "adapter_config.json").is_file() and lora_b and not nonzero_b:
        raise TrainingError(
            f"{folder}: every lora_B matrix of the adapter is zero, so it changes nothing: no "
            "optimizer step reached it (empty curated set? learning rate 0?)"
        )
    return count


def require_deepspeed() -> None:
    """Raise the install hint when DeepSpeed (needed by ZeRO-2) is missing."""
    try:
        import deepspeed  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "training.launch.strategy = 'zero2' needs DeepSpeed: pip install deepspeed "
            "(on the GPU machines), or use strategy 'ddp'"
        ) from exc


def die_with_parent() -> Callable[[], Any] | None:
    """Return a subprocess `preexec_fn` making Linux SIGTERM the launcher if its parent dies.

    A driver killed mid-training then leaves no launch behind: torchrun (and accelerate's
    launcher, which is torchrun) stops its workers on SIGTERM, so `iterdeploy resume` finds the
    rendezvous port free and the job folder idle. None where there is no prctl (not Linux):
    there a killed driver's launch runs on to its end. The function is looked up here, in the
    parent, so that the child runs only the call between fork and exec.
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return functools.partial(prctl, 1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def tail(path: Path, lines: int = 20) -> str:
    """Return the end of a launch log for an error message: the ranks' own errors if any.

    torchrun prefixes a failed rank's traceback with `[rankN]:` and ends the log with its own
    summary, which names the rank but not the cause.
    """
    if not path.is_file():
        return ""
    text = path.read_text(errors="replace").strip().splitlines()
    ranks = [line for line in text if line.startswith("[rank")]
    shown = "\n".join((ranks or text)[-lines:])
    return f" Last lines of {path}:\n{shown}" if text else ""
