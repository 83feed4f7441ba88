"""The `ray` executor on a real local Ray cluster (loopback, 2 CPUs): same results as `local`.

One cluster serves the whole module; every test compares against the local executor on the
same shards, so "identical results on one machine" is what is asserted, not a number.
"""

from __future__ import annotations

import os
import signal

import pytest
from test_executors import (
    build_small_pool,
    fake_factory,
    hf_factory,
    make_shards,
    mixed_items,
    texts,
    without_timing,
)

from iterdeploy.errors import ConfigError
from iterdeploy.loop.executors import WORKER_ENV, LocalExecutor, RayExecutor, open_executor

ray = pytest.importorskip("ray", reason="needs the [ray] extra")  # part of [dev]: installed in CI


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster on 127.0.0.1 with 2 CPUs, shut down after the module."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        runtime_env={"env_vars": dict(WORKER_ENV)},
        log_to_driver=False,
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    return build_small_pool(tmp_path_factory.mktemp("pool") / "blocksworld")


def local_results(factory, shards):
    with LocalExecutor(factory, None, workers=1) as executor:
        return {s.index: texts(traces) for s, traces in executor.generate(shards)}


def test_real_model_shards_on_two_actors_equal_local_even_when_a_worker_is_killed(
    cluster, pool, test_model
):
    shards = make_shards(pool, per_shard=2)  # 6 shards, 2 in flight per actor
    expected = local_results(hf_factory(test_model), shards)
    seen = []
    with RayExecutor(hf_factory(test_model), pool.validator, workers=2) as executor:
        pids = executor.worker_pids()
        assert len(set(pids)) == 2 and os.getpid() not in pids
        got = {}
        for shard, traces in executor.generate(shards):
            seen.append(shard.index)
            got[shard.index] = texts(traces)
            if len(seen) == 1:  # both actors still hold queued shards: kill one mid-generation
                os.kill(pids[1], signal.SIGKILL)
        after = executor.worker_pids()
    assert sorted(seen) == list(range(len(shards)))  # every shard once: none lost, none twice
    assert got == expected
    assert after[0] == pids[0] and after[1] != pids[1]  # the killed actor was restarted


def test_validation_as_ray_tasks_matches_local_scores(cluster, pool):
    items = mixed_items(pool)
    with LocalExecutor(lambda: None, pool.validator, workers=1) as executor:
        expected = executor.validate(items)
    with open_executor("ray", lambda: None, pool.validator) as executor:
        assert executor.cpus == 2 and executor.workers == 2  # one actor per CPU worker
        got = executor.validate(items)
        assert executor.validate([]) == []
    assert without_timing(got) == without_timing(expected)


def test_fake_backend_shards_on_ray_equal_local_in_completion_order(cluster, pool):
    factory = fake_factory(pool, valid_rate=0.4, corrupt_rate=0.3)
    shards = make_shards(pool, per_shard=1)
    with RayExecutor(factory, pool.validator, workers=2, in_flight=3) as executor:
        got = {s.index: texts(traces) for s, traces in executor.generate(shards)}
        assert list(executor.generate([])) == []
    assert got == local_results(factory, shards)


def test_a_backend_that_cannot_start_on_a_worker_raises_its_own_error(cluster, pool):
    factory = fake_factory(pool, valid_rate=2.0)
    shards = make_shards(pool)
    with RayExecutor(factory, pool.validator, workers=1) as executor:
        with pytest.raises(ConfigError, match="valid_rate = 2.0: use a rate in"):
            list(executor.generate(shards))


def test_bad_settings_say_how_to_fix(pool):
    for bad in ({"workers": -1}, {"cpus_per_worker": 0}, {"max_attempts": 0}):
        with pytest.raises(ConfigError, match="use workers >= 0"):
            RayExecutor(lambda: None, pool.validator, **bad)
