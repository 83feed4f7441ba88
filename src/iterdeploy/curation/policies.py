"""Curation policies: plain functions `(scored, rng, **params) -> list[Example]`.

A policy sees every stored trace of generations 0..n of one run and returns the curated set
that the next generation is trained on. `curate` is the one entry point the loop uses: it drops
the held-out split and the traces that fail a required counter-reward check *before* any policy
runs, so no policy (including a user's `module:function`) can train on held-out tasks.

The ordering used by `paper` is the paper's rule: shortest plan, then fewer reasoning tokens,
then the earliest (generation, sample). The last key makes the choice deterministic and means a
later generation replaces an earlier trace only when it is strictly better.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from iterdeploy.errors import ConfigError
from iterdeploy.records import StoredTrace
from iterdeploy.registry import load_object


@dataclass(frozen=True, slots=True)
class Example:
    """One curated training example in TRL's prompt/completion shape, with its lineage."""

    prompt: str
    completion: str
    task_id: str
    generation: int  # generation of the trace it came from
    sample: int


Policy = Callable[..., list[Example]]


def curate(
    policy: Policy,
    scored: Iterable[StoredTrace],
    rng: random.Random,
    *,
    require: Sequence[str] = (),
    params: Mapping[str, Any] | None = None,
) -> list[Example]:
    """Return `policy`'s curated set over the pool traces that pass every `require`d check.

    Held-out traces never reach the policy. The result is sorted by (task, generation, sample)
    so the dataset file does not depend on the policy's internal order.
    """
    eligible = [
        s
        for s in scored
        if s.split == "pool" and all(s.checks.get(name, False) for name in require)
    ]
    examples = policy(eligible, rng, **dict(params or {}))
    return sorted(examples, key=lambda e: (e.task_id, e.generation, e.sample))


def resolve_policy(name: str) -> Policy:
    """Return the policy registered as `name`, or the function a `module:function` names."""
    from iterdeploy.curation import POLICIES

    if ":" in name and name not in POLICIES.names():
        return load_object(name, what=f"curation policy {name!r}")
    return POLICIES.get(name)


def paper(scored: Sequence[StoredTrace], rng: random.Random) -> list[Example]:
    """Return one valid trace per task: the shortest plan, then fewest reasoning tokens.

    >>> a = _demo("t1", 0, length=5, tokens=30)
    >>> b = _demo("t1", 1, length=5, tokens=20)
    >>> [e.generation for e in paper([a, b], random.Random(0))]
    [1]
    """
    return [_to_example(group[0]) for group in _valid_by_task(scored).values()]


def keep_k(scored: Sequence[StoredTrace], rng: random.Random, *, k: int = 2) -> list[Example]:
    """Return up to `k` valid traces per task, best first by the `paper` ordering.

    >>> ts = [_demo("t1", g, length=3 + g, tokens=9) for g in range(4)]
    >>> [e.generation for e in keep_k(ts, random.Random(0), k=2)]
    [0, 1]
    """
    if not isinstance(k, int) or k < 1:
        raise ConfigError(f"curation.params.k = {k!r}: keep-k needs an integer k >= 1")
    return [_to_example(s) for group in _valid_by_task(scored).values() for s in group[:k]]


def random_tie(scored: Sequence[StoredTrace], rng: random.Random) -> list[Example]:
    """Return one valid shortest-plan trace per task, ties broken by `rng` (not by tokens).

    >>> ts = [_demo("t1", g, length=4, tokens=g) for g in range(3)] + [_demo("t1", 3, 9, 0)]
    >>> [e.generation for e in random_tie(ts, random.Random(1))][0] in (0, 1, 2)
    True
    """
    chosen = []
    for group in _valid_by_task(scored).values():
        shortest = min(s.plan_length for s in group)
        ties = sorted((s for s in group if s.plan_length == shortest), key=_identity)
        chosen.append(_to_example(rng.choice(ties)))
    return chosen


def window(scored: Sequence[StoredTrace], rng: random.Random, *, w: int = 1) -> list[Example]:
    """Return `paper` over the traces of the last `w` generations only (limits replay).

    >>> ts = [_demo("t1", 0, length=2, tokens=5), _demo("t1", 2, length=6, tokens=5)]
    >>> [e.generation for e in window(ts, random.Random(0), w=1)]
    [2]
    """
    if not isinstance(w, int) or w < 1:
        raise ConfigError(f"curation.params.w = {w!r}: window needs an integer w >= 1")
    if not scored:
        return []
    newest = max(s.generation for s in scored)
    return paper([s for s in scored if s.generation > newest - w], rng)


def no_curation(scored: Sequence[StoredTrace], rng: random.Random) -> list[Example]:
    """Return every trace, valid or not, except those cut off at the token limit (the ablation).

    >>> bad = _demo("t1", 0, length=0, tokens=5, valid=False)
    >>> cut = _demo("t2", 0, length=0, tokens=5, valid=False, truncated=True)
    >>> [e.task_id for e in no_curation([bad, cut], random.Random(0))]
    ['t1']
    """
    return [_to_example(s) for s in sorted(scored, key=_identity) if not s.truncated]


def _valid_by_task(scored: Iterable[StoredTrace]) -> dict[str, list[StoredTrace]]:
    """Group the valid traces by task, each group sorted best first by the paper's key."""
    groups: dict[str, list[StoredTrace]] = defaultdict(list)
    for s in scored:
        if s.valid:
            groups[s.task_id].append(s)
    for group in groups.values():
        group.sort(key=_paper_key)
    return dict(sorted(groups.items()))


def _paper_key(s: StoredTrace) -> tuple[int, int, int, int, int]:
    return (s.plan_length, s.reasoning_tokens, s.run, s.generation, s.sample)


def _identity(s: StoredTrace) -> tuple[str, int, int, int]:
    return (s.task_id, s.run, s.generation, s.sample)


def _to_example(s: StoredTrace) -> Example:
    return Example(s.prompt, s.text, s.task_id, s.generation, s.sample)


def _demo(
    task: str, generation: int, length: int, tokens: int, valid: bool = True, truncated=False
) -> StoredTrace:
    """Return a hand-built trace for the doctests."""
    return StoredTrace(
        run=0,
        generation=generation,
        task_id=task,
        sample=0,
        split="pool",
        prompt=f"solve {task}",
        text=f"plan of {length}",
        valid=valid,
        plan=("(step)",) * length,
        reasoning_tokens=tokens,
        truncated=truncated,
    )
