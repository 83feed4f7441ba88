"""The run configuration: a tree of frozen dataclasses, loaded defaults -> preset -> --set.

`RunConfig` composes each stage's own config (`SamplingParams` from generation, `TrainConfig`
from training, `CheckConfig` from curation) with the loop's sections. A preset is a TOML file
holding only the values that differ from the defaults; `--set a.b=value` overrides go last and
are parsed with `ast.literal_eval`, falling back to the raw string. Unknown keys and wrong types
raise `ConfigError` naming the key and what is allowed. The resolved config is written back as
TOML (`to_toml`) so a run folder says exactly what ran, and a resume must match it.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import hashlib
import json
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from iterdeploy.curation.checks import CheckConfig
from iterdeploy.embedded.config import EmbeddedConfig
from iterdeploy.errors import LITERAL_KEY, ConfigError, one_of, require, require_choices
from iterdeploy.sampling import SamplingParams
from iterdeploy.tracking.config import TrackingConfig
from iterdeploy.training.config import TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - py310
    import tomli as tomllib

PRESETS_DIR = Path(__file__).resolve().parents[2] / "configs"


@dataclass(frozen=True, slots=True)
class LoopConfig:
    """How many runs and generations, and how the work is seeded and committed."""

    seed: int = 0  # run seed; every sample's seed derives from (seed, run, generation, task)
    runs: int = 1  # seeded repetitions of all generations
    generations: int = 3  # fine-tuned generations after the base model; deploys 0..generations
    out_dir: str = "runs"  # run folders go to <out_dir>/<run_id>
    chunk_tasks: int = 64  # tasks per committed deployment chunk (partial work survives a kill)
    heldout_samples: int = 1  # samples per held-out task (evaluated, never curated)
    validation_workers: int = 0  # processes validating plans; 0 = one per core, 1 = in-process
    executor: Literal["local", "ray"] = "local"  # this machine, or a Ray cluster (docs/scale.md)
    ray_address: str = ""  # "" = start a local Ray cluster; "auto" or "host:6379" = join one
    ray_workers: int = 0  # generation actors with executor "ray"; 0 = one per GPU (or CPU)
    # model that samples the pool: every new one, or the last one the [gate] passed
    deploy: Literal["newest", "gated"] = "newest"

    def __post_init__(self) -> None:
        require_choices(self, "loop")
        require(not self.ray_address or self.executor == "ray", "loop.ray_address",
                 self.ray_address, "empty unless loop.executor = 'ray'")  # fmt: skip
        require(self.ray_workers >= 0, "loop.ray_workers", self.ray_workers, "an integer >= 0")
        require(self.runs >= 1, "loop.runs", self.runs, "an integer >= 1")
        require(self.generations >= 0, "loop.generations", self.generations, "an integer >= 0")
        require(self.chunk_tasks >= 1, "loop.chunk_tasks", self.chunk_tasks, "an integer >= 1")
        require(self.heldout_samples >= 1, "loop.heldout_samples", self.heldout_samples, ">= 1")
        require(
            self.validation_workers >= 0,
            "loop.validation_workers",
            self.validation_workers,
            "an integer >= 0",
        )


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """The task pool of each domain: how many tasks, which difficulty levels, the held-out share."""

    domains: tuple[str, ...] = ("blocksworld",)  # names in iterdeploy.domains.DOMAINS
    size: int = 320  # tasks per domain, held-out ones included
    heldout: float = 0.2  # share of each difficulty level put in the held-out split
    levels: tuple[int, ...] = ()  # difficulty ladder levels to draw from; () = every level
    # domain -> its own levels, replacing `levels` for that domain (domains differ in how hard
    # a level is for one model)
    domain_levels: dict[str, tuple[int, ...]] = field(default_factory=dict)
    seed: int = 0  # pool generator seed (the same pool for every run, as in the paper)

    def __post_init__(self) -> None:
        require(bool(self.domains), "pool.domains", self.domains, "at least one domain name")
        require(self.size >= 1, "pool.size", self.size, "an integer >= 1")
        require(0 <= self.heldout < 1, "pool.heldout", self.heldout, "a share in [0, 1)")
        for name in self.domain_levels:
            require(name in self.domains, f"pool.domain_levels.{name}", name,
                     f"a key among pool.domains ({', '.join(self.domains)})")  # fmt: skip

    def levels_of(self, domain: str) -> tuple[int, ...]:
        """Return the ladder levels of `domain`'s pool; () = every level."""
        return tuple(self.domain_levels.get(domain, self.levels))


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """The base model and the backend that deploys it."""

    base: str = "embedded"  # "embedded" (built locally), a checkpoint folder or a hub id
    backend: str = "transformers"  # a name in iterdeploy.generation.BACKENDS
    # the backend's options (iterdeploy.generation.options), checked by loop.setup.check_run
    backend_options: dict[str, Any] = field(default_factory=dict)
    template: str = "compact"  # prompt template: "compact" (tiny models) or "paper"

    def __post_init__(self) -> None:
        if "api_key" in self.backend_options:  # the message never repeats the secret
            raise ConfigError(LITERAL_KEY)


@dataclass(frozen=True, slots=True)
class CurationConfig:
    """Which traces enter the curated set, and what "good" means beyond "valid"."""

    policy: str = "paper"  # a name in iterdeploy.curation.POLICIES or "module:function"
    params: dict[str, Any] = field(default_factory=dict)  # policy keyword arguments (k, w, ...)
    checks: tuple[CheckConfig, ...] = ()  # counter-reward checks run and stored on every trace
    require: tuple[str, ...] = ()  # names of checks a trace must pass to be curated

    def __post_init__(self) -> None:
        names = [c.name for c in self.checks]
        dupes = sorted({n for n in names if names.count(n) > 1})
        require(not dupes, "curation.checks", dupes, "unique check names")
        for name in self.require:
            require(
                name in names,
                "curation.require",
                name,
                f"one of the configured checks ({', '.join(names) or 'none configured'})",
            )


GroupKey = Literal["domain", "difficulty"]  # task fields a gate group may be keyed by
GROUP_KEYS = typing.get_args(GroupKey)


@dataclass(frozen=True, slots=True)
class GateConfig:
    """What a generation must keep to be released (the gate itself: `iterdeploy.loop.gate`)."""

    split: Literal["heldout", "pool"] = "heldout"  # tasks the gate measures
    max_drop: float = 0.0  # allowed drop of the solve rate (0.02 = 2 points) vs the deployed
    max_group_drop: float = 0.1  # allowed drop of any task group's solve rate
    group_by: tuple[GroupKey, ...] = GROUP_KEYS  # task fields that define a group

    def __post_init__(self) -> None:
        require_choices(self, "gate")
        for name, value in (("max_drop", self.max_drop), ("max_group_drop", self.max_group_drop)):
            require(0.0 <= value <= 1.0, f"gate.{name}", value, "a fraction between 0 and 1")


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Everything a run needs; stored with the run and compared on resume."""

    loop: LoopConfig = field(default_factory=LoopConfig)
    pool: PoolConfig = field(default_factory=PoolConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    generation: SamplingParams = field(default_factory=SamplingParams)
    curation: CurationConfig = field(default_factory=CurationConfig)
    training: TrainConfig = field(default_factory=TrainConfig)
    gate: GateConfig = field(default_factory=GateConfig)  # the release gate of loop.deploy=gated
    embedded: EmbeddedConfig = field(default_factory=EmbeddedConfig)  # model.base = "embedded"
    tracking: TrackingConfig | None = None  # experiment trackers; None = no [tracking] table

    def __post_init__(self) -> None:
        unknown = sorted(set(self.pool.domains) - set(self.embedded.domains))
        require(
            self.model.base != "embedded" or not self.embedded.domains or not unknown,
            "embedded.domains",
            list(self.embedded.domains),
            f"every pool domain (the embedded model never sees {', '.join(unknown)}); add it, "
            "or leave embedded.domains empty to pretrain on the pool's domains",
        )
        if self.loop.deploy != "gated":
            return
        require(
            self.gate.split == "heldout",
            "gate.split",
            self.gate.split,
            "'heldout' with loop.deploy = 'gated' (the gate runs before the pool is deployed)",
        )
        require(
            self.pool.heldout > 0,
            "pool.heldout",
            self.pool.heldout,
            "a share > 0 with loop.deploy = 'gated' (the gate measures held-out tasks)",
        )


def load_config(preset: str | Path | None = None, overrides: Sequence[str] = ()) -> RunConfig:
    """Return the defaults, updated by a preset (name or TOML path), then by `key=value`s."""
    data: dict[str, Any] = {}
    if preset is not None:
        data = read_toml(preset_path(preset))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: write it as section.key=value")
        _set_path(data, key.strip().split("."), _parse_value(raw.strip()))
    return from_dict(RunConfig, data)


def preset_path(preset: str | Path) -> Path:
    """Return the TOML file of a preset name (configs/<name>.toml) or an explicit path."""
    path = Path(preset)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"preset file {str(path)!r} does not exist")
        return path
    known = sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))
    if str(preset) not in known:
        raise ConfigError(
            f"unknown preset {str(preset)!r}. Available: {', '.join(known)}, or a path to a "
            ".toml file"
        )
    return PRESETS_DIR / f"{preset}.toml"


def read_toml(path: Path) -> dict[str, Any]:
    """Return the parsed TOML file, with a located error for a malformed one."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}. Fix the file and retry.") from exc


def from_dict(cls: type, data: Mapping[str, Any], prefix: str = "") -> Any:
    """Return a `cls` dataclass from nested mappings, rejecting unknown keys and bad types."""
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    require(isinstance(data, Mapping), prefix.rstrip(".") or "config", data,
            f"a table of keys ({', '.join(names)})")  # fmt: skip
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        close = difflib.get_close_matches(key, names, n=1)
        hint = f" (did you mean {prefix + close[0]!r}?)" if close else ""
        require(key in names, f"{prefix}{key}", value,
                f"one of the keys {', '.join(names)}{hint}")  # fmt: skip
    for f in fields:
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        require(f.name in data or not required, f"{prefix}{f.name}", None, "a value (no default)")
    return cls(**{key: _coerce(value, hints[key], f"{prefix}{key}") for key, value in data.items()})


def to_dict(config: Any) -> dict[str, Any]:
    """Return a dataclass tree as plain TOML-ready values (tuples become lists).

    An optional table left unset (None, such as `training.launch`) is left out, as in TOML, so
    adding one keeps the digest of every config that does not set it.
    """
    return _plain(config)


def to_toml(config: Any) -> str:
    """Return the dataclass tree as TOML text that `from_dict(read_toml(...))` reads back."""
    lines: list[str] = []
    _write_table(lines, [], to_dict(config))
    return "\n".join(lines).lstrip("\n") + "\n"


def config_digest(config: Any) -> str:
    """Return a short stable digest of the resolved config (what a resume must match)."""
    text = json.dumps(to_dict(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Return `value` converted to the type `hint`, or raise ConfigError naming `where`."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[-1])
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, prefix=f"{where}.")
    if origin in (tuple, list):
        require(isinstance(value, Sequence) and not isinstance(value, str), where, value, "a list")
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        require(isinstance(value, Mapping), where, value, "a table of key = value")
        item = args[1] if args else Any
        return {k: _coerce(v, item, f"{where}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool):
        require(type(value) is hint, where, value, f"a value of type {hint.__name__}")
        return value
    if origin is typing.Literal:
        require(value in args, where, value, one_of(args))
    return value


def _parse_value(raw: str) -> Any:
    """Return a Python literal when `raw` is one ("3", "0.7", "['a']", "True"), else the text."""
    lowered = {"true": True, "false": False}.get(raw.lower())
    if lowered is not None:
        return lowered
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def _set_path(data: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        node = data.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {'.'.join(keys)}: {key!r} holds a value, not a table")
        data = node
    data[keys[-1]] = value


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        hints = typing.get_type_hints(type(value))
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None or not _is_optional_table(hints[f.name])
        }
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _write_table(lines: list[str], path: list[str], table: dict[str, Any]) -> None:
    scalars = {k: v for k, v in table.items() if not _is_table(v) and not _is_table_list(v)}
    if path and (scalars or not table):
        lines += ["", f"[{'.'.join(path)}]"]
    lines += [f"{_key(k)} = {_value(v)}" for k, v in scalars.items() if v is not None]
    for key, value in table.items():
        if _is_table(value):
            _write_table(lines, [*path, _key(key)], value)
        elif _is_table_list(value):
            for item in value:
                lines += ["", f"[[{'.'.join([*path, _key(key)])}]]"]
                lines += [f"{_key(k)} = {_value(v)}" for k, v in item.items() if v is not None]


def _is_optional_table(hint: Any) -> bool:
    args = typing.get_args(hint)
    return type(None) in args and any(dataclasses.is_dataclass(arg) for arg in args)


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise ConfigError(f"cannot write {value!r} ({type(value).__name__}) to TOML")
