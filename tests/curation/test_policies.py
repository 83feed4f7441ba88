from __future__ import annotations

import doctest
import random
import sys
import types

import pytest

from iterdeploy.curation import POLICIES
from iterdeploy.curation import policies as policies_module
from iterdeploy.curation.policies import (
    Example,
    curate,
    keep_k,
    no_curation,
    paper,
    random_tie,
    resolve_policy,
    window,
)
from iterdeploy.errors import ConfigError
from iterdeploy.records import StoredTrace


def trace(
    task,
    generation,
    sample=0,
    *,
    length=3,
    tokens=10,
    valid=True,
    truncated=False,
    split="pool",
    checks=None,
    run=0,
):
    return StoredTrace(
        run=run,
        generation=generation,
        task_id=task,
        sample=sample,
        split=split,
        prompt=f"prompt {task}",
        text=f"{task}/g{generation}/s{sample}",
        valid=valid,
        plan=tuple(f"(step{i})" for i in range(length if valid else 0)),
        reasoning_tokens=tokens,
        truncated=truncated,
        checks=checks or {},
    )


def picked(examples):
    return [(e.task_id, e.generation, e.sample) for e in examples]


def test_doctests_of_policies_pass():
    result = doctest.testmod(policies_module)
    assert result.attempted >= 5 and result.failed == 0


def test_paper_keeps_shortest_valid_plan_per_task():
    scored = [
        trace("a", 0, length=5),
        trace("a", 0, 1, length=3),
        trace("a", 1, length=4),
        trace("b", 1, length=7),
        trace("b", 0, valid=False),
    ]
    assert picked(paper(scored, random.Random(0))) == [("a", 0, 1), ("b", 1, 0)]


def test_paper_breaks_length_ties_by_fewer_reasoning_tokens():
    scored = [trace("a", 0, length=3, tokens=50), trace("a", 2, length=3, tokens=12)]
    assert picked(paper(scored, random.Random(0))) == [("a", 2, 0)]


def test_paper_later_generation_replaces_only_when_strictly_better():
    equal = [trace("a", 0, length=3, tokens=10), trace("a", 3, length=3, tokens=10)]
    assert picked(paper(equal, random.Random(0))) == [("a", 0, 0)]
    better = [trace("a", 0, length=3, tokens=10), trace("a", 3, length=2, tokens=90)]
    assert picked(paper(better, random.Random(0))) == [("a", 3, 0)]


def test_paper_drops_tasks_without_valid_traces():
    scored = [trace("a", g, valid=False) for g in range(3)]
    assert paper(scored, random.Random(0)) == []


def test_none_keeps_invalid_but_not_truncated_traces():
    scored = [
        trace("a", 0, valid=False),
        trace("a", 1, truncated=True, valid=False),
        trace("b", 0, length=2),
        trace("b", 1, length=9),
    ]
    assert picked(no_curation(scored, random.Random(0))) == [("a", 0, 0), ("b", 0, 0), ("b", 1, 0)]


def test_curate_never_uses_heldout_traces_even_for_user_policies():
    scored = [trace("a", 0), trace("h", 0, split="heldout", length=1)]
    seen = []

    def spy(eligible, rng):
        seen.extend(s.task_id for s in eligible)
        return [Example(s.prompt, s.text, s.task_id, s.generation, s.sample) for s in eligible]

    assert picked(curate(spy, scored, random.Random(0))) == [("a", 0, 0)]
    assert seen == ["a"]
    assert picked(curate(no_curation, scored, random.Random(0))) == [("a", 0, 0)]


def test_curate_requires_named_checks():
    scored = [
        trace("a", 0, length=2, checks={"short": False}),
        trace("a", 1, length=4, checks={"short": True}),
        trace("b", 0, checks={}),
    ]
    out = curate(paper, scored, random.Random(0), require=["short"])
    assert picked(out) == [("a", 1, 0)]


def test_keep_k_keeps_best_k_per_task():
    scored = [trace("a", g, length=9 - g) for g in range(4)] + [trace("b", 0)]
    assert picked(keep_k(scored, random.Random(0), k=2)) == [("a", 3, 0), ("a", 2, 0), ("b", 0, 0)]
    with pytest.raises(ConfigError, match="k >= 1"):
        keep_k(scored, random.Random(0), k=0)


def test_window_only_sees_last_w_generations():
    scored = [
        trace("a", 0, length=1),
        trace("a", 2, length=5),
        trace("a", 3, length=6),
        trace("b", 1, length=2),
        trace("c", 3, valid=False),
    ]
    assert picked(window(scored, random.Random(0), w=2)) == [("a", 2, 0)]
    assert picked(window(scored, random.Random(0), w=4)) == [("a", 0, 0), ("b", 1, 0)]
    with pytest.raises(ConfigError, match="w >= 1"):
        window(scored, random.Random(0), w=0)


def test_random_tie_is_deterministic_per_seed_and_varies_across_seeds():
    scored = [trace("a", g, s, length=3, tokens=100 - s) for g in range(3) for s in range(3)]
    scored.append(trace("a", 0, 9, length=8))
    runs = {seed: picked(random_tie(scored, random.Random(seed))) for seed in range(12)}
    assert runs[5] == picked(random_tie(list(reversed(scored)), random.Random(5)))
    assert len({tuple(v) for v in runs.values()}) > 1
    assert all(v[0] != ("a", 0, 9) for v in runs.values())


def test_curate_sorts_examples_by_task_generation_sample():
    scored = [trace("b", 0), trace("a", 1), trace("a", 0, valid=False)]
    out = curate(no_curation, scored, random.Random(0))
    assert picked(out) == [("a", 0, 0), ("a", 1, 0), ("b", 0, 0)]


def test_resolve_policy_by_name_and_by_import_path(monkeypatch):
    assert resolve_policy("paper") is paper
    module = types.ModuleType("my_policies")

    def first_valid(scored, rng, *, limit=1):
        return [
            Example(s.prompt, s.text, s.task_id, s.generation, s.sample) for s in scored if s.valid
        ][:limit]

    module.first_valid = first_valid
    monkeypatch.setitem(sys.modules, "my_policies", module)
    policy = resolve_policy("my_policies:first_valid")
    out = curate(policy, [trace("a", 0), trace("b", 0)], random.Random(0), params={"limit": 1})
    assert picked(out) == [("a", 0, 0)]


def test_unknown_policy_names_the_available_ones():
    with pytest.raises(ConfigError, match="Did you mean 'paper'") as err:
        resolve_policy("papr")
    assert "keep-k" in str(err.value) and "window" in str(err.value)
    with pytest.raises(ConfigError, match="cannot import"):
        resolve_policy("no_such_module_xyz:policy")
    assert POLICIES.names() == ["keep-k", "none", "paper", "random-tie", "window"]
