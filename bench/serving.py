"""Benchmark of the serving backends: vLLM (offline, and `vllm serve` through the openai backend)
against the transformers backend, in generated tokens per second at one batch size.

  nice .venv/bin/python bench/serving.py                 # batch 64, 100 new tokens, 3 repeats
  nice .venv/bin/python bench/serving.py --server        # also the openai backend on vllm serve

vLLM runs from .venv-vllm (./setup.sh makes it): the offline engine in a worker process, the
server as a child process on 127.0.0.1. Start-up is timed apart from generation. Contenders run
side by side, alternating, on the same prompts and seeds; the figures are medians.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see DESIGN.md §7

import argparse  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402

from iterdeploy.embedded.model import build_random_model  # noqa: E402
from iterdeploy.generation.base import Backend, SamplingParams  # noqa: E402
from iterdeploy.generation.hf import TransformersBackend  # noqa: E402
from iterdeploy.generation.openai_http import OpenAIBackend  # noqa: E402
from iterdeploy.generation.vllm import VLLMBackend, serve_command  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"

# A compact Blocksworld task, about 150 tokens with the tiny model's tokenizer.
PROMPT = (
    "domain: blocksworld\n"
    "actions: (pick-up ?b) (put-down ?b) (stack ?b ?under) (unstack ?b ?under)\n"
    "objects: b1 b2 b3 b4 b5 b6\n"
    "init: (handempty) (clear b1) (on b1 b2) (on b2 b3) (ontable b3) (clear b4) (on b4 b5) "
    "(on b5 b6) (ontable b6)\n"
    "goal: (on b3 b1) (on b6 b4) (on b2 b3) (on b5 b2)\n"
    "Think, then write the plan, one (action args) per line."
)


def run(backend: Backend, batch: int, params: SamplingParams, repeat: int) -> tuple[int, float]:
    """Return (tokens generated, seconds) for one batch of `batch` prompts."""
    seeds = [repeat * 1000 + i for i in range(batch)]
    start = time.perf_counter()
    rows = backend.generate([PROMPT] * batch, params, seeds=seeds)
    seconds = time.perf_counter() - start
    return sum(t.output_tokens for row in rows for t in row), seconds


def start_server(model: Path, log: Path) -> tuple[subprocess.Popen, str, float]:
    """Start `vllm serve` on a free port; return the process, its OpenAI root and start-up s."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = serve_command(VLLM_PYTHON, model, port=port, served_name="tiny", cpu=True)
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="2", VLLM_ENABLE_V1_MULTIPROCESSING="0")
    start = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)  # fmt: skip
    while proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).is_success:
                return proc, f"http://127.0.0.1:{port}/v1", time.perf_counter() - start
        except httpx.TransportError:
            time.sleep(1)
    raise SystemExit(f"vllm serve exited with {proc.returncode}; see {log}")


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", default="small", help="embedded model size (head_dim >= 32)")
    parser.add_argument("--server", action="store_true", help="also time the openai backend")
    args = parser.parse_args()
    if not VLLM_PYTHON.is_file():
        raise SystemExit(f"no vllm venv at {VLLM_PYTHON}: run ./setup.sh first")
    params = SamplingParams(n=1, temperature=1.0, max_tokens=args.new_tokens)

    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        model = build_random_model(Path(tmp) / "model", seed=0, size=args.size)
        contenders: dict[str, Backend] = {}
        startup: dict[str, float] = {}
        proc = None
        try:
            for name, make in [
                ("transformers", lambda: TransformersBackend(model, batch_size=args.batch)),
                ("vllm", lambda: VLLMBackend(model, python=VLLM_PYTHON, dtype="bfloat16")),
            ]:
                start = time.perf_counter()
                contenders[name] = make()
                startup[name] = time.perf_counter() - start
            if args.server:
                proc, url, startup["openai"] = start_server(model, Path(tmp) / "server.log")
                contenders["openai"] = OpenAIBackend(
                    "tiny", base_url=url, tokenizer=model, concurrency=args.batch
                )
            for backend in contenders.values():  # warm-up: first-call allocations
                run(backend, min(args.batch, 8), SamplingParams(max_tokens=8), repeat=99)
            rates: dict[str, list[float]] = {name: [] for name in contenders}
            for repeat in range(args.repeats):
                for name, backend in contenders.items():
                    tokens, seconds = run(backend, args.batch, params, repeat)
                    rates[name].append(tokens / seconds)
                    print(f"  repeat {repeat} {name:12s} {tokens:6d} tokens in {seconds:6.2f} s")
        finally:
            for backend in contenders.values():
                backend.close()
            if proc is not None:
                stop_server(proc)

    reference = statistics.median(rates["transformers"])
    print(f"\nbatch {args.batch}, {args.new_tokens} new tokens, {args.size} model, "
          f"medians of {args.repeats}:")  # fmt: skip
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"  {name:12s} {median:8.0f} tokens/s  ({median / reference:4.2f}x transformers)"
              f"  start-up {startup[name]:5.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
