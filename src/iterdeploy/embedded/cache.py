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

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from iterdeploy.embedded.model import SIZES, build_random_model
from iterdeploy.embedded.walks import WalkSpec, walk_examples
from iterdeploy.errors import ConfigError
from iterdeploy.training.config import TrainConfig
from iterdeploy.training.sft import replace_dir, train

log = logging.getLogger(__name__)

# Bump when the data, the trace format or the training code changes what a config builds.
FORMAT_VERSION = 2
MARKER = "build.json"


@dataclass(frozen=True, slots=True)
class EmbeddedConfig:
    """What the embedded default model is: its shape, its pretraining data and schedule."""

    size: str = "small"  # a key of iterdeploy.embedded.model.SIZES (0.83M parameters)
    domains: tuple[str, ...] = ("blocksworld",)  # pool domains the walks are drawn from
    levels: tuple[int, ...] = (0, 1, 2)  # ladder levels of the pretraining tasks (2-5 blocks)
    examples: int = 12000  # random-walk traces, each seen once
    max_steps: int = 6  # walks take 1..max_steps actions
    max_reasoning_lines: int = 8  # reasoning restates the first 1..this many goal atoms
    tokenizer_examples: int = 1000  # traces the tokenizer is trained on
    learning_rate: float = 3e-3  # AdamW peak, cosine decay after 5% warm-up
    batch_size: int = 8  # small batches: more optimizer steps for the same compute
    seed: int = 0  # seeds the data, the tokenizer corpus, the weights and the training
    completion_only: bool = False  # loss on the trace only; False also predicts the task text

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ConfigError(f"embedded.size = {self.size!r}: use one of {', '.join(SIZES)}")
        if self.examples < 2 or self.max_steps < 1 or self.max_reasoning_lines < 1:
            raise ConfigError(
                "embedded.examples must be >= 2 and max_steps, max_reasoning_lines >= 1; got "
                f"{self.examples}, {self.max_steps}, {self.max_reasoning_lines}"
            )

    def digest(self) -> str:
        """Return the 16-hex-digit key of this config (and of the build code's format)."""
        payload = json.dumps({"format": FORMAT_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def train_config(self) -> TrainConfig:
        """Return the pretraining schedule as a `TrainConfig` (full fine-tuning, one epoch)."""
        return TrainConfig(
            method="full",
            learning_rate=self.learning_rate,
            epochs=1,
            batch_size=self.batch_size,
            scheduler="cosine",
            warmup_ratio=0.05,
            validation_fraction=0.0,
            logging_steps=10,
            completion_only=self.completion_only,
            seed=self.seed,
        )


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


@contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `lock_path` while inside."""
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
