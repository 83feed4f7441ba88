"""The `openai` backend: any OpenAI-compatible server (vllm serve, llama.cpp, SGLang) over httpx.

Every sample is one request with n=1 and seed `sample_seed(seeds[i], j)`: servers differ in how
they seed n>1 (llama.cpp has no n at all), and one request per sample lets a failed run resend
only what is missing. Requests run on a bounded thread pool; connection errors, timeouts, 429
and 5xx responses are retried with exponential backoff, then the call raises one `BackendError`.
Each finished sample goes to a `ResultCache` (memory, plus an append-only JSONL file when
`cache_path` is set) before anything else can fail, so nothing already generated is lost:
`lookup()` returns it, and calling `generate` again sends only the missing requests.

Endpoints: "chat" (default) lets the server apply the model's chat template and, when it runs a
reasoning parser (`vllm serve --reasoning-parser qwen3`), split the reasoning into
`reasoning_content` (or vLLM's newer `reasoning`); the trace text is then rebuilt as
reasoning + "</think>" + content. "completions" sends the prompt as text, in the chat template
of `tokenizer` when one is given. An adapter is a model name on the server: vLLM serves LoRA
adapters with `--lora-modules NAME=PATH`, or loads them at run time (`load_adapters=True`).
The API key comes from an environment variable (`api_key_env`, default OPENAI_API_KEY), never
from the config: a key in `model.backend_options` would be stored in the run's config.toml and
sent on to trackers and dataset cards.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

from iterdeploy.errors import BackendError, ConfigError
from iterdeploy.generation.base import Backend, SamplingParams, Trace, build_trace, sample_seed
from iterdeploy.generation.options import DEFAULT_KEY_ENV, OpenAIOptions

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class ResultCache:
    """Finished samples by request key: in memory, and appended to a JSONL file when given.

    A line torn by a crash mid-write is skipped on load; the sample is simply requested again.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._traces: dict[str, Trace] = {}
        self._lock = threading.Lock()
        if self.path is not None and self.path.is_file():
            for line in self.path.read_text().splitlines():
                try:
                    record = json.loads(line)
                    self._traces[record["key"]] = Trace(**record["trace"])
                except (ValueError, KeyError, TypeError):
                    log.warning("skipping a torn line in %s", self.path)

    def __len__(self) -> int:
        return len(self._traces)

    def get(self, key: str) -> Trace | None:
        return self._traces.get(key)

    def put(self, key: str, trace: Trace) -> None:
        with self._lock:
            self._traces[key] = trace
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a") as f:
                    f.write(json.dumps({"key": key, "trace": asdict(trace)}) + "\n")


def request_key(model: str, endpoint: str, prompt: str, params: SamplingParams, seed: int,
                index: int) -> str:  # fmt: skip
    """Return the cache key of sample `index` of `prompt` seeded with `seed` (n excluded)."""
    settings = {k: v for k, v in asdict(params).items() if k != "n"}
    blob = json.dumps([model, endpoint, prompt, settings, seed, index], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class OpenAIBackend(Backend):
    """Sample from an OpenAI-compatible HTTP server.

    Args:
        model: the served model name (`vllm serve ... --served-model-name`).
        options: the fields of `OpenAIOptions`:
        base_url: the server's OpenAI root, ending in /v1.
        endpoint: "chat" (server applies the chat template) or "completions".
        api_key_env: the environment variable holding the API key. Unset or empty with the
            default name: no Authorization header (a local server); a variable named
            explicitly must be set.
        tokenizer: a local tokenizer (directory or hub id in the local cache) to count reasoning
            tokens and, for "completions", to apply the chat template. None: counts come from
            the server's /tokenize (vLLM, SGLang).
        concurrency: requests in flight at once.
        timeout: seconds for one request; retries: further attempts after a failure, waiting
            backoff * 2**k seconds (at most max_backoff) before attempt k+1.
        adapters: local adapter path -> name the server serves it as (`--lora-modules`).
        load_adapters: register unknown adapter directories with the server at run time
            (vLLM's /v1/load_lora_adapter; start it with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True).
        cache_path: JSONL file that keeps finished samples across processes; None: memory only.
        extra_body: more fields for every request body (server-specific options).
    """

    def __init__(self, model: str, **options: Any) -> None:
        opts = OpenAIOptions(**options)
        self.model = model
        self.base_url = opts.base_url.rstrip("/")
        self.endpoint = opts.endpoint
        self.concurrency = opts.concurrency
        self.retries, self.backoff, self.max_backoff = opts.retries, opts.backoff, opts.max_backoff
        self.adapters = {_path_key(path): name for path, name in (opts.adapters or {}).items()}
        self.load_adapters = opts.load_adapters
        self.extra_body = dict(opts.extra_body or {})
        self.cache = ResultCache(opts.cache_path)
        self.sent = 0  # requests sent by generate(), retries excluded
        self._tokenizer = _load_tokenizer(opts.tokenizer) if opts.tokenizer is not None else None
        api_key = read_api_key(opts.api_key_env)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            timeout=httpx.Timeout(opts.timeout, connect=min(opts.timeout, 10.0)),
            limits=httpx.Limits(max_connections=opts.concurrency),
            headers=headers,
        )
        self._abort = threading.Event()
        self._sent_lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    # -- generation --------------------------------------------------------------------------

    def _generate(
        self,
        prompts: list[str],
        params: SamplingParams,
        seeds: list[int],
        adapter: str | Path | None,
    ) -> list[list[Trace]]:
        model = self._served_name(adapter)
        keys = [
            [request_key(model, self.endpoint, p, params, s, j) for j in range(params.n)]
            for p, s in zip(prompts, seeds, strict=True)
        ]
        missing = [
            (i, j)
            for i in range(len(prompts))
            for j in range(params.n)
            if self.cache.get(keys[i][j]) is None
        ]
        log.info("openai: %d of %d samples cached, sending %d requests to %s",
                 len(prompts) * params.n - len(missing), len(prompts) * params.n, len(missing),
                 self.base_url)  # fmt: skip
        if missing:
            self._run(missing, prompts, params, seeds, model, keys)
        return self.lookup(prompts, params, seeds=seeds, adapter=adapter)  # type: ignore[return-value]

    def lookup(
        self,
        prompts: list[str],
        params: SamplingParams,
        *,
        seeds: list[int],
        adapter: str | Path | None = None,
    ) -> list[list[Trace | None]]:
        """Return the cached traces of these requests, None for those not generated yet.

        After a `BackendError`, this is what the failed call had already generated.
        """
        model = self._served_name(adapter, register=False)
        return [
            [self.cache.get(request_key(model, self.endpoint, p, params, s, j))
             for j in range(params.n)]
            for p, s in zip(prompts, seeds, strict=True)
        ]  # fmt: skip

    def _run(
        self,
        missing: list[tuple[int, int]],
        prompts: list[str],
        params: SamplingParams,
        seeds: list[int],
        model: str,
        keys: list[list[str]],
    ) -> None:
        """Send the `missing` (prompt, sample) requests; cache each result as it arrives."""
        self._abort.clear()
        share = min(self.concurrency, len(missing))
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = {
                pool.submit(self._sample, prompts[i], params, sample_seed(seeds[i], j), model,
                            share): (i, j)
                for i, j in missing
            }  # fmt: skip
            try:
                for future in as_completed(futures):
                    i, j = futures[future]
                    self.cache.put(keys[i][j], future.result())
            except BaseException as exc:
                self._abort.set()  # queued requests are skipped, in-flight ones stop retrying
                pool.shutdown(wait=True, cancel_futures=True)
                for future, (i, j) in futures.items():  # keep whatever still finished
                    if future.done() and not future.cancelled() and future.exception() is None:
                        self.cache.put(keys[i][j], future.result())
                if not isinstance(exc, BackendError):
                    raise
                done = sum(self.cache.get(keys[i][j]) is not None for i, j in missing)
                where = f" and in {self.cache.path}" if self.cache.path else ""
                raise BackendError(
                    f"{exc} ({done} of {len(missing)} requests of this call finished; they are "
                    f"kept in the backend's cache{where}: call generate() again to send only "
                    "the missing ones, or lookup() to read them)"
                ) from exc

    def _sample(self, prompt: str, params: SamplingParams, seed: int, model: str,
                share: int) -> Trace:  # fmt: skip
        """Return one trace: one request, retried on transient failures."""
        if self._abort.is_set():
            raise BackendError("cancelled after another request failed")
        body: dict[str, Any] = {
            "model": model,
            "n": 1,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "seed": seed,
            **({"top_k": params.top_k} if params.top_k else {}),
            **self.extra_body,
        }
        if self.endpoint == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = self._render(prompt)
        with self._sent_lock:
            self.sent += 1
        start = time.perf_counter()
        reply = self._post(f"{self.base_url}/{_PATHS[self.endpoint]}", body)
        seconds = (time.perf_counter() - start) / share
        return self._trace(reply, model, seconds)

    def _trace(self, reply: dict[str, Any], model: str, seconds: float) -> Trace:
        """Return the trace of one response body (a malformed body is a `BackendError`)."""
        try:
            choice = reply["choices"][0]
            if self.endpoint == "chat":
                message = choice["message"]
                content = message.get("content")
                reasoning = message.get("reasoning_content") or message.get("reasoning")
                if reasoning is not None:  # the server split it: rebuild the raw output
                    text = reasoning if content is None else f"{reasoning}</think>{content}"
                else:
                    text = content or ""
            else:
                text = choice["text"]
            finish = choice.get("finish_reason")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise BackendError(
                f"the server at {self.base_url} sent a response that is not an OpenAI "
                f"{self.endpoint} completion: {str(reply)[:200]!r}"
            ) from exc
        usage = reply.get("usage") or {}
        output_tokens = usage.get("completion_tokens")
        return build_trace(
            text,
            count_tokens=lambda s: self._count_tokens(s, model),
            output_tokens=int(output_tokens) if output_tokens is not None else
            self._count_tokens(text, model),
            truncated=finish == "length",
            seconds=seconds,
        )  # fmt: skip

    # -- HTTP ---------------------------------------------------------------------------------

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """Return the JSON reply of a POST, retrying transient failures with backoff."""
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                response = self._client.post(url, json=body)
                if response.status_code not in RETRY_STATUS:
                    return _json_or_raise(response)
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            except ValueError as exc:  # a 2xx whose body is not JSON: a broken server
                problem = f"unreadable response: {exc}"
            if attempt + 1 == attempts or self._abort.is_set():
                break
            delay = min(self.backoff * 2**attempt, self.max_backoff)
            log.warning("openai: %s on %s; retry %d/%d in %.1f s", problem, url, attempt + 1,
                        self.retries, delay)  # fmt: skip
            if self._abort.wait(delay):
                break
        raise BackendError(
            f"request to {url} failed after {attempt + 1} attempt(s): {problem}. Make sure the "
            f"server is running at {self.base_url} and serves model {body.get('model')!r}"
        )

    def _count_tokens(self, text: str, model: str) -> int:
        """Return the number of tokens of `text` by the model's tokenizer (no special tokens)."""
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False))
        root = self.base_url.removesuffix("/v1")
        reply = self._post(
            f"{root}/tokenize", {"model": model, "prompt": text, "add_special_tokens": False}
        )
        if "count" not in reply:
            raise ConfigError(
                f"the server at {root} has no vLLM-style /tokenize endpoint to count reasoning "
                "tokens: pass tokenizer= (a local tokenizer directory of the served model)"
            )
        return int(reply["count"])

    def _render(self, prompt: str) -> str:
        if self._tokenizer is None:
            return prompt
        from iterdeploy.prompting.build import render_chat

        return render_chat(self._tokenizer, prompt)

    # -- adapters -----------------------------------------------------------------------------

    def _served_name(self, adapter: str | Path | None, register: bool = True) -> str:
        """Return the model name to request for `adapter` (None: the base model)."""
        if adapter is None:
            return self.model
        key = _path_key(adapter)
        if key in self.adapters:
            return self.adapters[key]
        path = Path(adapter)
        if not path.is_dir():
            return str(adapter)  # already a served name, e.g. from --lora-modules
        if not self.load_adapters:
            raise ConfigError(
                f"adapter {str(adapter)!r} is a local directory the server does not know: start "
                f"the server with --lora-modules NAME={key} and pass adapters={{{key!r}: NAME}}, "
                "or pass load_adapters=True (vLLM with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True)"
            )
        if not (path / "adapter_config.json").is_file():
            raise ConfigError(
                f"adapter {key!r} is a full checkpoint, not a LoRA adapter: serve it as its own "
                "model and construct the backend with that model name"
            )
        stamp = max((p.stat().st_mtime_ns for p in path.glob("adapter_model.*")), default=0)
        name = "adapter-" + hashlib.sha256(f"{key}:{stamp}".encode()).hexdigest()[:12]
        if register:
            root = self.base_url.removesuffix("/v1")
            self._post_plain(f"{root}/v1/load_lora_adapter", {"lora_name": name, "lora_path": key})
            self.adapters[key] = name
            log.info("openai: loaded adapter %s as %r", key, name)
        return name

    def _post_plain(self, url: str, body: dict[str, Any]) -> None:
        """POST where the server answers plain text (vLLM's adapter loading)."""
        try:
            response = self._client.post(url, json=body)
        except httpx.TransportError as exc:
            raise BackendError(f"cannot reach {url}: {exc}") from exc
        if response.status_code >= 400 and "already been loaded" not in response.text:
            raise BackendError(
                f"the server refused to load adapter {body['lora_path']!r} ({url}, HTTP "
                f"{response.status_code}): {response.text[:300]}. Start vLLM with "
                "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True and --enable-lora"
            )


_PATHS = {"chat": "chat/completions", "completions": "completions"}


def read_api_key(variable: str) -> str | None:
    """Return the API key held by environment variable `variable`, None when unset.

    A variable other than the default must be set: naming it says a key is needed.
    """
    if not variable or not variable.replace("_", "").isalnum():
        raise ConfigError(
            f"model.backend_options.api_key_env = {variable!r}: name an environment variable, "
            f"e.g. {DEFAULT_KEY_ENV}"
        )
    key = os.environ.get(variable) or None
    if key is None and variable != DEFAULT_KEY_ENV:
        raise ConfigError(
            f"model.backend_options.api_key_env = {variable!r}, but ${variable} is not set: "
            f"export {variable}=<your key> before starting the run"
        )
    return key


def _json_or_raise(response: httpx.Response) -> dict[str, Any]:
    """Return the JSON body of a non-retryable response; a 4xx is a `BackendError` at once."""
    if response.status_code >= 400:
        raise BackendError(
            f"the server refused the request ({response.request.url}, HTTP "
            f"{response.status_code}): {response.text[:300]}"
        )
    return response.json()


def _path_key(adapter: str | Path) -> str:
    """Return the key of an adapter: its absolute path when it exists, else the name as given."""
    path = Path(adapter)
    return str(path.resolve()) if path.exists() else str(adapter)


def _load_tokenizer(name: str | Path) -> Any:
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise ConfigError(
            "a local tokenizer needs: pip install 'iterdeploy[hf]' (or pass tokenizer=None to "
            "count tokens with the server's /tokenize)"
        ) from exc
    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load tokenizer {str(name)!r}: {exc}") from exc
