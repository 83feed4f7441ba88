"""The embedded default model: built once per config into a cache folder, then reused.

`ensure_model()` returns a standard Hugging Face directory: a tokenizer trained locally on the
pretraining data, a seeded Qwen3-architecture model of 0.83M parameters, pretrained with
`iterdeploy.training.sft.train` (full fine-tuning, loss on prompt and trace) on random-walk
traces of the pool domains (`iterdeploy.embedded.walks`). Nothing is downloaded.

The folder is `<cache>/embedded-<digest>`, the digest covering the `EmbeddedConfig` and the
format version. `build.json`, written last, records the sha256 of every file; a folder whose
files no longer match is rebuilt. A lock file serialises concurrent builds of the same model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from iterdeploy.embedded.config import FORMAT_VERSION, EmbeddedConfig
from iterdeploy.embedded.model import build_random_model
from iterdeploy.embedded.walks import WalkSpec, walk_examples
from iterdeploy.locks import locked
from iterdeploy.training.sft import replace_dir, train

log = logging.getLogger(__name__)

MARKER = "build.json"


def default_cache_dir() -> Path:
    """Return $ITERDEPLOY_CACHE, else $XDG_CACHE_HOME/iterdeploy, else ~/.cache/iterdeploy."""
    if os.environ.get("ITERDEPLOY_CACHE"):
        return Path(os.environ["ITERDEPLOY_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "iterdeploy"


def ensure_model(cache_dir: str | Path | None = None, config: EmbeddedConfig | None = None) -> Path:
    """Return the directory of the embedded model for `config`, building it if needed."""
    config = config or EmbeddedConfig()
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"embedded-{config.digest()}"
    with locked(root / f"{path.name}.lock"):
        problem = check_build(path, config)
        if problem is None:
            log.info("embedded model %s is cached at %s", config.digest(), path)
            return path
        if path.exists():
            log.warning("rebuilding the embedded model at %s: %s", path, problem)
        build(config, path)
    return path


def check_build(path: Path, config: EmbeddedConfig) -> str | None:
    """Return why `path` is not a complete build of `config`, or None when it is."""
    marker = path / MARKER
    if not marker.is_file():
        return "no build marker (never built, or interrupted)"
    try:
        record = json.loads(marker.read_text())
        files = dict(record["files"])
    except (ValueError, KeyError, TypeError) as exc:
        return f"unreadable {MARKER}: {exc}"
    if record.get("digest") != config.digest():
        return f"built for config {record.get('digest')}, not {config.digest()}"
    for name, expected in files.items():
        file = path / name
        if not file.is_file() or file_digest(file) != expected:
            return f"{name} is missing or changed since the build"
    return None


def build(config: EmbeddedConfig, path: Path) -> None:
    """Build the model of `config` into `path`: data, tokenizer, weights, pretraining."""
    config = config.for_domains()
    start = time.perf_counter()
    scratch = path.with_name(path.name + ".building")
    shutil.rmtree(scratch, ignore_errors=True)
    spec = WalkSpec(config.domains, config.levels, config.max_steps, config.max_reasoning_lines)
    examples = list(walk_examples(spec, config.examples, config.seed))
    corpus = [e["prompt"] + "\n" + e["completion"] for e in examples[: config.tokenizer_examples]]
    init = build_random_model(scratch / "init", config.seed, config.size, texts=corpus)
    log.info("embedded model: %d walk traces, tokenizer and init in %.0fs",
             len(examples), time.perf_counter() - start)  # fmt: skip
    result = train(init, examples, config.train_config(), scratch / "model")
    model = scratch / "model"
    record = {
        "digest": config.digest(),
        "config": asdict(config),
        "format": FORMAT_VERSION,
        "weights_digest": result.digest,
        "pretraining": {"tokens": result.tokens, "final_loss": result.losses[-1][1]},
        "build_seconds": round(time.perf_counter() - start, 1),
        "files": {f.name: file_digest(f) for f in sorted(model.iterdir()) if f.is_file()},
    }
    (model / MARKER).write_text(json.dumps(record, indent=1) + "\n")
    replace_dir(model, path)
    shutil.rmtree(scratch, ignore_errors=True)
    log.info("built the embedded model in %.0fs -> %s", record["build_seconds"], path)


def file_digest(path: Path) -> str:
    """Return the sha256 of the file at `path`."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
