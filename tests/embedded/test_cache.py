"""The embedded model's cache: build once, reuse, detect corruption, rebuild identically."""

from __future__ import annotations

import json
import logging

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from iterdeploy.cli import main
from iterdeploy.embedded.cache import MARKER, EmbeddedConfig, check_build, ensure_model
from iterdeploy.embedded.probe import probe
from iterdeploy.errors import ConfigError
from iterdeploy.generation.base import SamplingParams

# A scaled-down build: the same pipeline as the default model, in seconds.
TINY = EmbeddedConfig(size="test", examples=48, tokenizer_examples=48, batch_size=16)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    return root, ensure_model(root, TINY)


def test_build_is_a_standard_hf_folder_keyed_by_the_config_digest(built):
    root, path = built
    assert path == root / f"embedded-{TINY.digest()}"
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert model.config.model_type == "qwen3"
    assert "</think>" in tokenizer.get_vocab()
    record = json.loads((path / MARKER).read_text())
    assert record["config"]["examples"] == 48
    assert {"model.safetensors", "tokenizer.json", "config.json"} <= set(record["files"])
    assert record["pretraining"]["tokens"] > 48 * 50


def test_cached_model_is_reused(built, caplog):
    root, path = built
    before = (path / "model.safetensors").stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="iterdeploy.embedded.cache"):
        assert ensure_model(root, TINY) == path
    assert "is cached" in caplog.text
    assert (path / "model.safetensors").stat().st_mtime_ns == before


def test_corrupt_cache_is_detected_and_rebuilt_identically(built):
    root, path = built
    weights = path / "model.safetensors"
    original = weights.read_bytes()
    weights.write_bytes(original[:-64] + bytes(64))
    assert "model.safetensors is missing or changed" in check_build(path, TINY)
    assert ensure_model(root, TINY) == path
    assert weights.read_bytes() == original  # the build is deterministic
    (path / MARKER).write_text("{not json")
    assert "unreadable" in check_build(path, TINY)
    ensure_model(root, TINY)
    assert check_build(path, TINY) is None


def test_other_configs_get_other_folders_and_bad_ones_are_refused():
    assert EmbeddedConfig(seed=1).digest() != EmbeddedConfig().digest()
    assert EmbeddedConfig().digest() == EmbeddedConfig().digest()
    with pytest.raises(ConfigError, match="embedded.size"):
        EmbeddedConfig(size="huge")


def test_probe_reports_verdicts_of_every_trace(built):
    _, path = built
    result = probe(path, tasks=6, params=SamplingParams(n=2, temperature=1.0, max_tokens=32))
    assert sum(result.reasons.values()) == 12
    assert 0 <= result.solve_rate <= result.solved_tasks <= 1


def test_cli_model_init_prints_the_cached_folder(built, capsys, monkeypatch):
    root, path = built
    monkeypatch.setattr("iterdeploy.embedded.cache.EmbeddedConfig", lambda: TINY)
    assert main(["model", "init", "--cache-dir", str(root)]) == 0
    assert capsys.readouterr().out.strip() == str(path)
    assert main(["model", "info", str(path), "--tasks", "2"]) == 0
    out = capsys.readouterr().out
    assert "Qwen3ForCausalLM" in out and "Blocksworld" in out
    assert main(["model", "info", str(root)]) == 2
    assert "not a model folder" in capsys.readouterr().err


@pytest.mark.slow
def test_default_model_knows_the_action_language_but_not_planning(tmp_path):
    path = ensure_model(tmp_path)  # about 3-5 minutes on 2 free cores
    params = SamplingParams(n=4, temperature=1.0, max_tokens=128)
    result = probe(path, levels=(0, 1), tasks=64, params=params)
    assert 0 < result.solve_rate < 0.25  # measured: 0.078 (20 of 256 traces)
    malformed = result.reasons.get("unparsable", 0) + result.reasons.get("unknown-action", 0)
    assert malformed / (result.tasks * result.samples) < 0.05  # it writes the domain's actions
