"""What a run needs before its first stage: the pool, the base model, prompts, a backend.

Pools and the embedded model are built once and cached under $ITERDEPLOY_CACHE (default
~/.cache/iterdeploy), keyed by what determines their content, so a second run starts at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from iterdeploy.errors import ConfigError, require

if TYPE_CHECKING:
    from iterdeploy.config import CurationConfig, ModelConfig, RunConfig
    from iterdeploy.domains.base import Task
    from iterdeploy.generation.base import Backend

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Return $ITERDEPLOY_CACHE, else $XDG_CACHE_HOME/iterdeploy, else ~/.cache/iterdeploy."""
    if os.environ.get("ITERDEPLOY_CACHE"):
        return Path(os.environ["ITERDEPLOY_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "iterdeploy"


def check_run(config: RunConfig) -> None:
    """Raise ConfigError for anything in `config` that would fail a run later: every name
    (domain, backend, template, policy) and parameter, the base model's folder, and the extras.

    `iterdeploy run` calls this before it creates the run folder, so a typo costs a second,
    not a sampled generation.
    """
    from iterdeploy.domains import DOMAINS
    from iterdeploy.prompting.build import TEMPLATES

    require(config.model.template in TEMPLATES, "model.template", config.model.template,
             f"one of {', '.join(TEMPLATES)}")  # fmt: skip
    for name in config.pool.domains:
        domain = DOMAINS.get(name)
        for level in config.pool.levels_of(name):
            domain.level_ranges(level)
    _check_extras(config)
    _check_base(config.model)
    _check_backend(config.model)
    _check_policy(config.curation)


def _check_extras(config: RunConfig) -> None:
    """Raise ConfigError naming every extra the run needs and this install lacks."""
    import importlib.util

    from iterdeploy.registry import EXTRAS

    # Not [planner]: tiny tasks are solved by breadth-first search; a pool that needs Fast
    # Downward fails at once, before any stage, and `iterdeploy run` then removes the folder.
    needed = []
    if config.model.base == "embedded" or config.model.backend == "transformers":
        needed += ["torch", "transformers"]
    if config.loop.generations > 0:
        needed += ["torch", "transformers", "peft", "trl", "datasets"]
    if config.loop.executor == "ray":
        needed.append("ray")
    if config.model.backend == "openai":
        needed.append("httpx")
    missing = sorted({m for m in needed if importlib.util.find_spec(m) is None})
    if missing:
        extras = ",".join(sorted({EXTRAS[m] for m in missing}))
        raise ConfigError(
            f"this run needs: pip install 'iterdeploy[{extras}]' (missing modules "
            f"{', '.join(missing)})"
        )


def _check_base(model: ModelConfig) -> None:
    """Raise ConfigError when model.base names a local path that is not a model folder."""
    if model.base == "embedded" or model.backend not in ("transformers", "vllm"):
        return
    path = Path(model.base).expanduser()
    looks_like_path = model.base.startswith(("/", ".", "~")) or model.base.count("/") > 1
    if path.is_dir():
        require((path / "config.json").is_file() or (path / "adapter_config.json").is_file(),
                 "model.base", model.base, "a model folder (with config.json)")  # fmt: skip
    else:
        require(not path.exists() and not looks_like_path, "model.base", model.base,
                 "'embedded', a model folder, or a hub id such as 'Qwen/Qwen3-0.6B'")  # fmt: skip


def _check_backend(model: ModelConfig) -> None:
    """Raise ConfigError for an unknown backend, or a backend option it does not take (naming
    `model.backend_options.KEY`) or of the wrong type; imports no backend."""
    from iterdeploy.config import from_dict
    from iterdeploy.generation import BACKEND_OPTIONS

    from_dict(BACKEND_OPTIONS.get(model.backend), model.backend_options, "model.backend_options.")


def _check_policy(curation: CurationConfig) -> None:
    """Raise ConfigError for an unknown policy or parameters it rejects (a dry run on nothing)."""
    import random

    from iterdeploy.curation.policies import curate, resolve_policy

    policy = resolve_policy(curation.policy)
    try:
        curate(policy, [], random.Random(0), params=curation.params)
    except TypeError as exc:
        raise ConfigError(
            f"curation.params = {curation.params!r} do not fit policy {curation.policy!r}: {exc}"
        ) from exc


def load_tasks(config: RunConfig) -> list[Task]:
    """Return the pool and held-out tasks of every configured domain (building them once)."""
    from iterdeploy.domains.pool import build_pool, load_pool

    pool = config.pool
    tasks: list[Task] = []
    for name in pool.domains:
        levels = list(pool.levels_of(name)) or None
        key = json.dumps([name, pool.size, pool.heldout, levels or [], pool.seed])
        out = cache_dir() / "pools" / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
        # force: a cached pool built with other planner settings is rebuilt, not an error
        path = build_pool(
            name, pool.size, pool.seed, out, levels=levels, heldout=pool.heldout, force=True
        )
        tasks.extend(load_pool(path))
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise ConfigError(
            f"pool.domains = {list(pool.domains)!r}: task ids collide; list each domain once"
        )
    return tasks


def resolve_base(config: RunConfig) -> str:
    """Return the base model to load: the embedded model's folder, or `model.base` as given.

    The embedded model is pretrained on the run's `[embedded]` recipe, its domains defaulting
    to the pool's. A folder holding another embedded build is checked the same way: a pool
    domain its pretraining never saw is logged as a warning (the model can only fail there).
    """
    from iterdeploy.embedded.cache import MARKER, ensure_model

    if config.model.base == "embedded":
        recipe = config.embedded.for_domains(config.pool.domains)
        return str(ensure_model(cache_dir(), recipe))
    record = Path(config.model.base) / MARKER
    if record.is_file():
        seen = json.loads(record.read_text()).get("config", {}).get("domains", [])
        missing = sorted(set(config.pool.domains) - set(seen))
        if missing:
            log.warning(
                "model %s was pretrained on %s only, never on pool domain(s) %s: expect no "
                "valid plans there; use model.base = 'embedded' to pretrain on the pool's domains",
                config.model.base, ", ".join(seen), ", ".join(missing),
            )  # fmt: skip
    return config.model.base


def domain_texts(tasks: Sequence[Task]) -> dict[str, str]:
    """Return the domain PDDL of every domain the tasks use."""
    from iterdeploy.domains import DOMAINS

    return {name: DOMAINS.get(name).domain_pddl for name in sorted({t.domain for t in tasks})}


def prompt_for(config: RunConfig, task: Task) -> str:
    """Return the prompt of `task` under the configured template."""
    from iterdeploy.domains import DOMAINS
    from iterdeploy.prompting.build import build_prompt

    domain = DOMAINS.get(task.domain)
    return build_prompt(config.model.template, task.domain, domain.domain_pddl, task.problem)


def make_backend(
    config: RunConfig, base: str, tasks: Sequence[Task], prompts: Mapping[str, str]
) -> Backend:
    """Return the configured backend, ready to generate with `base` (a context manager)."""
    from iterdeploy.generation import BACKENDS

    _check_backend(config.model)
    options = dict(config.model.backend_options)
    if config.model.backend == "fake":
        options["plans"] = {prompts[t.id]: t.reference_plan for t in tasks}
    return BACKENDS.get(config.model.backend)(base, **options)


def validator_identity() -> tuple[str, str]:
    """Return the validator's name and version (package version + digest of its source).

    The digest covers every module a verdict depends on: the parser and its model, plan
    reading, grounding, ADL evaluation, the validator itself and the extraction of plans from
    model output.
    """
    from iterdeploy import __version__
    from iterdeploy.pddl import (
        checks,
        conditions,
        formula,
        ground,
        model,
        parser,
        plan,
        sexpr,
        successors,
        validate,
        verdict,
    )
    from iterdeploy.prompting import extract

    digest = hashlib.sha256()
    modules = (sexpr, model, conditions, parser, plan, successors, formula, checks, verdict,
               ground, validate)  # fmt: skip
    for module in (*modules, extract):
        digest.update(Path(module.__file__).read_bytes())
    return "iterdeploy.pddl.validate", f"{__version__}+{digest.hexdigest()[:12]}"
