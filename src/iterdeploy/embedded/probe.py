"""A quick probe of a model on freshly generated tasks: solve rate and where plans fail.

Used to check the embedded model after a build (it must know the action language, not how to
plan) and by `iterdeploy model info`. The loop's real evaluation runs on its task pool instead.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from iterdeploy.domains import DOMAINS
from iterdeploy.embedded.walks import parsed_domain
from iterdeploy.errors import ConfigError
from iterdeploy.generation.base import SamplingParams
from iterdeploy.generation.hf import TransformersBackend
from iterdeploy.pddl.parser import parse_problem
from iterdeploy.pddl.validate import prepare
from iterdeploy.prompting.build import build_prompt
from iterdeploy.prompting.extract import check_answer


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """How a model did on `tasks` generated tasks, `samples` traces each."""

    tasks: int
    samples: int
    solve_rate: float  # valid traces / all traces
    solved_tasks: float  # tasks with at least one valid trace / tasks
    reasons: dict[str, int]  # verdict reason -> traces
    mean_plan_length: float  # steps extracted per trace
    mean_reasoning_tokens: float


def probe(
    model: str | Path,
    domain: str = "blocksworld",
    levels: tuple[int, ...] = (0, 1),
    tasks: int = 64,
    params: SamplingParams | None = None,
    seed: int = 12345,
    dtype: str = "float32",
) -> ProbeResult:
    """Return the probe of `model` on `tasks` fresh tasks of `domain` at ladder `levels`."""
    params = params or SamplingParams(n=1, temperature=0, max_tokens=128)
    rng = random.Random(seed)
    spec = DOMAINS.get(domain)
    problems = [
        spec.generate(rng, spec.sample_params(rng, spec.level_ranges(levels[i % len(levels)])))
        for i in range(tasks)
    ]
    prompts = [build_prompt("compact", domain, spec.domain_pddl, p) for p in problems]
    with TransformersBackend(model, dtype=dtype) as backend:
        traces = backend.generate(prompts, params, seeds=list(range(tasks)))
    reasons: Counter[str] = Counter()
    solved, steps, thinking = 0, 0, 0
    for problem, row in zip(problems, traces, strict=True):
        checker = prepare(parsed_domain(domain), parse_problem(problem))
        verdicts = [check_answer(checker, trace.answer)[1] for trace in row]
        reasons.update(str(v.reason.value) for v in verdicts)
        solved += any(v.valid for v in verdicts)
        steps += sum(v.length for v in verdicts)
        thinking += sum(t.reasoning_tokens for t in row)
    total = tasks * params.n
    return ProbeResult(
        tasks=tasks,
        samples=params.n,
        solve_rate=reasons["ok"] / total,
        solved_tasks=solved / tasks,
        reasons=dict(reasons),
        mean_plan_length=steps / total,
        mean_reasoning_tokens=thinking / total,
    )


def describe(model: str | Path | None, tasks: int = 32, cache_dir: str | Path | None = None) -> str:
    """Return a few lines on `model` (default: the embedded model): its build and its probe."""
    from iterdeploy.embedded.cache import MARKER, ensure_model

    path = Path(model) if model is not None else ensure_model(cache_dir)
    if not (path / "config.json").is_file():
        raise ConfigError(f"{str(path)!r} is not a model folder (no config.json): pass one")
    config = json.loads((path / "config.json").read_text())
    lines = [
        f"model: {path}",
        f"architecture: {', '.join(config.get('architectures', ['?']))}, "
        f"{config.get('num_hidden_layers')} layers, hidden {config.get('hidden_size')}, "
        f"vocab {config.get('vocab_size')}",
    ]
    if (path / MARKER).is_file():
        record = json.loads((path / MARKER).read_text())
        lines.append(
            f"embedded build {record['digest']}: {record['pretraining']['tokens']} pretraining "
            f"tokens, final loss {record['pretraining']['final_loss']:.3f}, "
            f"built in {record['build_seconds']}s"
        )
    result = probe(path, tasks=tasks)
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(result.reasons.items()))
    lines.append(
        f"greedy on {tasks} fresh Blocksworld tasks (levels 0-1): solved "
        f"{result.solve_rate:.1%}; {reasons}; mean plan length {result.mean_plan_length:.1f}, "
        f"reasoning tokens {result.mean_reasoning_tokens:.1f}"
    )
    return "\n".join(lines)
