"""The API key stays in the environment: never in the run folder, the trackers or the card.

A local OpenAI-compatible server answers only requests that carry the key (the oracle plan of
each task, so the loop curates and trains for real). A loop runs against it with every tracker
and exports its curated set; then no file the run produced holds the key.
"""

from __future__ import annotations

import base64
import http.server
import json
import secrets
import threading
from pathlib import Path

import pytest
from tracking_helpers import write_preset

from iterdeploy.analysis.export import export_dataset
from iterdeploy.config import load_config
from iterdeploy.errors import ConfigError
from iterdeploy.generation import BACKENDS
from iterdeploy.generation.base import SamplingParams
from iterdeploy.loop.orchestrator import start_run
from iterdeploy.loop.setup import load_tasks, prompt_for


class KeyServer:
    """An OpenAI-compatible chat server on 127.0.0.1 that requires `Bearer <key>`."""

    def __init__(self, key: str, plans: dict[str, tuple[str, ...]]) -> None:
        self.key, self.plans = key, plans
        self.allowed = self.denied = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  # http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.headers.get("Authorization") != f"Bearer {server.key}":
                    server.denied += 1
                    self._reply(401, {"error": {"message": "invalid api key"}})
                    return
                server.allowed += 1
                if self.path.endswith("/load_lora_adapter"):
                    self._reply(200, {})
                    return
                plan = server.plans.get(body["messages"][0]["content"], ("(noop)",))
                text = "</think>\n" + "\n".join(plan)
                choice = {"message": {"content": text}, "finish_reason": "stop"}
                self._reply(200, {"choices": [choice], "usage": {"completion_tokens": 9}})

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                """Quiet: the test output is not for request lines."""

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> KeyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def openai_preset(path: Path, model: Path, url: str, extra: str = "") -> Path:
    """The tracking preset moved to the openai backend at `url`, the key in a named variable."""
    preset = write_preset(path, model, extra)
    text = preset.read_text().replace(
        'backend = "fake"\nbackend_options = { valid_rate = 0.5, corrupt_rate = 0.3 }',
        f'backend = "openai"\nbackend_options = {{ base_url = "{url}", tokenizer = "{model}", '
        'api_key_env = "ITERDEPLOY_TEST_KEY", load_adapters = true, retries = 0 }',
    )
    assert "openai" in text
    preset.write_text(text.replace('method = "full"', 'method = "lora"'))
    return preset


def oracle(preset: Path) -> dict[str, tuple[str, ...]]:
    config = load_config(preset)
    return {prompt_for(config, t): t.reference_plan for t in load_tasks(config)}


def test_the_key_reaches_the_server_and_no_file_of_the_run(
    cache, test_model, tmp_path, monkeypatch
):
    key = "sk-test-" + secrets.token_hex(20)
    monkeypatch.setenv("ITERDEPLOY_TEST_KEY", key)
    tracking = '\n[tracking]\nbackends = ["tensorboard", "mlflow", "wandb"]\n'
    preset = openai_preset(tmp_path / "p.toml", test_model, "http://127.0.0.1:1/v1", tracking)
    with KeyServer(key, oracle(preset)) as server:
        preset.write_text(preset.read_text().replace("http://127.0.0.1:1/v1", server.url))
        folder = start_run(load_config(preset), tmp_path / "run")
    assert server.allowed > 0 and server.denied == 0
    assert (folder / "adapters" / "r0" / "g1").is_dir()  # it curated and trained for real
    assert 'api_key_env = "ITERDEPLOY_TEST_KEY"' in (folder / "config.toml").read_text()
    export = export_dataset(folder, 1)  # inside the run folder: scanned below
    assert export.card.is_file()
    tracker_files = list((folder / "tracking").rglob("*"))
    assert {"tensorboard", "mlruns", "wandb"} <= {p.name for p in tracker_files}
    marks = [key.encode(), base64.b64encode(key.encode()), base64.b64encode(f":{key}".encode())]
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert len(files) > 30
    leaks = [str(p) for p in files for mark in marks if mark in p.read_bytes()]
    assert leaks == []


def test_the_default_variable_is_openai_api_key(test_model, monkeypatch):
    key = "sk-default-" + secrets.token_hex(8)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    with KeyServer(key, {"hello": ("(pick-up a)",)}) as server:
        with BACKENDS.get("openai")(str(test_model), base_url=server.url, tokenizer=test_model,
                                    retries=0) as backend:  # fmt: skip
            rows = backend.generate(["hello"], SamplingParams(n=1, max_tokens=8), seeds=[0])
    assert rows[0][0].text.endswith("(pick-up a)") and server.allowed == 1


def test_a_named_variable_that_is_unset_is_an_error_naming_it(test_model, monkeypatch):
    monkeypatch.delenv("ITERDEPLOY_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"\$ITERDEPLOY_TEST_KEY is not set: export"):
        BACKENDS.get("openai")(str(test_model), api_key_env="ITERDEPLOY_TEST_KEY")


def test_a_literal_key_in_the_config_is_refused_without_echoing_it(tmp_path):
    key = "sk-literal-" + secrets.token_hex(8)
    with pytest.raises(ConfigError) as info:
        load_config(None, ["model.backend=openai", f"model.backend_options={{'api_key': '{key}'}}"])
    message = str(info.value)
    assert "OPENAI_API_KEY" in message and "api_key_env" in message and key not in message
    with pytest.raises(ConfigError, match="do not write the API key"):
        BACKENDS.get("openai")("tiny", api_key=key)
