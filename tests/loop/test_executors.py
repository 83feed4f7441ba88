"""The `local` executor and the executor contract, on a real pool, validator and tiny model.

The helpers here (a small Blocksworld pool, shards of its prompts, scores without timings) are
shared with test_ray.py, which checks that the `ray` executor returns the same results.
"""

from __future__ import annotations

import dataclasses
import functools

import pytest

from iterdeploy.config import RunConfig
from iterdeploy.errors import ConfigError
from iterdeploy.generation.base import SamplingParams
from iterdeploy.generation.fake import FakeBackend
from iterdeploy.loop.executors import EXECUTORS, LocalExecutor, Shard, open_executor
from iterdeploy.loop.setup import domain_texts, prompt_for
from iterdeploy.loop.stages import Validator

PARAMS = SamplingParams(n=2, temperature=1.0, max_tokens=24)


@dataclasses.dataclass(frozen=True)
class Pool:
    """A small real pool with what the executors need: prompts and a validator."""

    tasks: list
    prompts: dict
    validator: Validator


def build_small_pool(folder):
    """Return twelve easy Blocksworld tasks with reference plans, prompts and a validator."""
    from iterdeploy.domains.pool import build_pool, load_pool

    tasks = load_pool(build_pool("blocksworld", 12, 0, folder, levels=[0, 1], heldout=0.25))
    config = RunConfig()
    prompts = {t.id: prompt_for(config, t) for t in tasks}
    return Pool(tasks, prompts, Validator(tasks, domain_texts(tasks), ()))


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    return build_small_pool(tmp_path_factory.mktemp("pool") / "blocksworld")


def make_shards(pool, per_shard=3, params=PARAMS):
    """Return the pool's shards: `per_shard` tasks each, seeded by position."""
    shards = []
    for index, start in enumerate(range(0, len(pool.tasks), per_shard)):
        part = pool.tasks[start : start + per_shard]
        shards.append(
            Shard(
                index=index,
                prompts=tuple(pool.prompts[t.id] for t in part),
                seeds=tuple(1000 + start + k for k in range(len(part))),
                params=params,
            )
        )
    return shards


def fake_factory(pool, **rates):
    """Return a picklable factory of the fake backend answering the pool's prompts."""
    plans = {pool.prompts[t.id]: t.reference_plan for t in pool.tasks}
    return functools.partial(FakeBackend, "fake", plans=plans, **rates)


def hf_factory(model):
    """Return a picklable factory of the transformers backend on `model` (fp32, CPU)."""
    from iterdeploy.generation.hf import TransformersBackend

    return functools.partial(
        TransformersBackend, str(model), dtype="float32", batch_size=8, device="cpu"
    )


def mixed_items(pool):
    """Return (task_id, text) items: reference plans, broken plans and garbage, per task."""
    items = []
    for t in pool.tasks:
        plan = "\n".join(t.reference_plan)
        items.append((t.id, f"<think>\nfine\n</think>\n{plan}"))
        items.append((t.id, "<think>\nhm\n</think>\n" + "\n".join(t.reference_plan[:-1])))
        items.append((t.id, "</think>(unstack \x00 ((( zz\n\ufffd"))
    return items


def without_timing(scores):
    return [dataclasses.replace(s, seconds=0.0) for s in scores]


def texts(traces):
    return [[t.text for t in row] for row in traces]


def test_local_executor_yields_every_shard_once_as_the_backend_generates_it(pool, test_model):
    shards = make_shards(pool)
    with hf_factory(test_model)() as backend:
        direct = [
            texts(backend.generate(list(s.prompts), s.params, seeds=list(s.seeds))) for s in shards
        ]
    with LocalExecutor(hf_factory(test_model), Validator([], {}, ()), workers=1) as executor:
        got = [(s.index, texts(traces)) for s, traces in executor.generate(shards)]
    assert [index for index, _ in got] == list(range(len(shards)))
    assert [t for _, t in got] == direct
    assert all(len(row) == PARAMS.n for _, t in got for row in t)


def test_local_executor_builds_its_backend_once_and_only_when_needed(pool):
    built = []

    def factory():
        built.append(1)
        return fake_factory(pool)()

    shards = make_shards(pool)
    with LocalExecutor(factory, Validator([], {}, ()), workers=1) as executor:
        assert list(executor.generate([])) == [] and built == []
        assert len(list(executor.generate(shards[:2]))) == 2
        assert len(list(executor.generate(shards[2:]))) == len(shards) - 2
    assert built == [1]


def test_validation_on_a_process_pool_matches_in_process_scores(pool):
    items = mixed_items(pool)
    with LocalExecutor(lambda: None, pool.validator, workers=1) as executor:
        alone = executor.validate(items)
    with LocalExecutor(lambda: None, pool.validator, workers=2) as executor:
        pooled = executor.validate(items)
        assert executor.validate([]) == []
    assert without_timing(pooled) == without_timing(alone)
    assert [s.valid for s in alone] == [True, False, False] * len(pool.tasks)
    reasons = {s.reason for s in alone[2::3]}
    assert reasons and "ok" not in reasons  # garbage is a verdict with a reason, not a crash


def test_open_executor_names_the_choices_and_rejects_a_ray_address_for_local(pool):
    assert EXECUTORS.names() == ["local", "ray"]
    with pytest.raises(ConfigError, match="unknown executor 'rya'. Did you mean 'ray'"):
        open_executor("rya", lambda: None, pool.validator)
    with pytest.raises(ConfigError, match="ray_address = 'auto' needs loop.executor = 'ray'"):
        open_executor("local", lambda: None, pool.validator, ray_address="auto")
    with pytest.raises(ConfigError, match="validation_workers = -1"):
        open_executor("local", lambda: None, pool.validator, validation_workers=-1)
    executor = open_executor("local", lambda: None, pool.validator, validation_workers=3)
    assert isinstance(executor, LocalExecutor) and executor.workers == 3
    executor.close()
