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
        with pytest.raises(ConfigError, match="valid_rate = 2.0 is not allowed: expected a rate"):
            list(executor.generate(shards))


def test_bad_settings_say_how_to_fix(pool):
    for bad in ({"workers": -1}, {"cpus_per_worker": 0}, {"max_attempts": 0}):
        with pytest.raises(ConfigError, match="use workers >= 0"):
            RayExecutor(lambda: None, pool.validator, **bad)


# -- Ray Data's vLLM batch processor: everything but the engine itself runs on CPU --------------


def test_ray_data_processor_runs_only_the_vllm_stage_with_lora_and_our_rows(cluster, test_model):
    from iterdeploy.loop.raydata import RayDataOptions, RequestBuilder, keep_columns
    from iterdeploy.loop.raydata import processor_config as make_config

    config = make_config(str(test_model), RayDataOptions(concurrency=2, max_lora_rank=32))
    assert config.engine_kwargs["enable_lora"] and config.engine_kwargs["max_lora_rank"] == 32
    processor = ray.data.llm.build_processor(config, postprocess=keep_columns)
    assert processor.list_stage_names() == ["vLLMEngineStage"]  # prompts are ours, not Ray's
    stage = processor.get_stage_by_name("vLLMEngineStage")
    assert stage.fn_constructor_kwargs["model"] == str(test_model)
    shard = make_shards_of(("plan this",), adapter=str(test_model / "adapters" / "g1"))
    row = RequestBuilder(str(test_model)).rows([shard])[0]
    assert set(stage.get_required_input_keys()) <= set(row)
    assert {"tokenized_prompt", "model"} <= set(stage.get_optional_input_keys())


def test_ray_data_rows_are_the_vllm_backends_requests_and_outputs_become_traces(
    cluster, test_model
):
    from iterdeploy.generation.base import sample_seed
    from iterdeploy.generation.hf import load_tokenizer
    from iterdeploy.loop.raydata import RequestBuilder, keep_columns, to_traces
    from iterdeploy.prompting.build import render_chat

    adapter = test_model.parent / "adapter-g1"
    shard = make_shards_of(("stack a on b", "unstack c"), adapter=str(adapter))
    builder = RequestBuilder(str(test_model))
    rows = builder.rows([shard])
    tokenizer = load_tokenizer(test_model)
    assert [(r["prompt_index"], r["sample"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for r in rows:
        text = render_chat(tokenizer, shard.prompts[r["prompt_index"]])
        assert r["tokenized_prompt"] == tokenizer.encode(text, add_special_tokens=False)
        seed = sample_seed(shard.seeds[r["prompt_index"]], r["sample"])
        assert r["sampling_params"] == {"n": 1, "temperature": 1.0, "top_p": 1.0, "top_k": 0,
                                        "max_tokens": 24, "seed": seed}  # fmt: skip
        assert r["model"] == str(adapter.resolve())  # the row's LoRA adapter
    # What the engine stage adds, then our postprocess as Ray Data maps it, in any order:
    eos = tokenizer.eos_token_id
    answers = ["<think>\nok\n</think>\n(pick-up a)", "<think>\nlong", "</think>(x)", "(y)"]
    engine_out = [
        {
            **r,
            "generated_text": a,
            "generated_tokens": [7] * (24 if k == 1 else 3) + [eos] * (k != 1),
        }
        for k, (r, a) in enumerate(zip(rows, answers, strict=True))
    ]
    mapped = ray.data.from_items(engine_out[::-1]).map(keep_columns).take_all()
    traces = to_traces(builder, shard, mapped, seconds=0.5)
    assert [[t.text for t in row] for row in traces] == [answers[:2], answers[2:]]
    assert [[t.truncated for t in row] for row in traces] == [[False, True], [False, False]]
    assert traces[0][0].reasoning == "ok" and traces[0][0].reasoning_tokens == builder.count_tokens(
        "ok"
    )
    assert traces[0][1].output_tokens == 24


def make_shards_of(prompts, adapter=None):
    from iterdeploy.generation.base import SamplingParams
    from iterdeploy.loop.executors import Shard

    params = SamplingParams(n=2, temperature=1.0, max_tokens=24)
    return Shard(7, tuple(prompts), tuple(range(len(prompts))), params, adapter)


def test_ray_data_takes_the_vllm_backend_options_and_fits_engines_to_the_gpus():
    from iterdeploy.loop.raydata import RayDataLLM

    llm = RayDataLLM.from_backend_options(
        "Qwen/Qwen3-4B-Thinking-2507", {"tensor_parallel_size": 2, "python": "x", "seed": 1}, 8
    )
    assert llm.options.concurrency == 4 and llm.options.tensor_parallel_size == 2
    assert RayDataLLM.from_backend_options("m", {"concurrency": 3}, 8).options.concurrency == 3
    with pytest.raises(ConfigError, match=r"\['max_num_seqs'\] are not options.*engine_args"):
        RayDataLLM.from_backend_options("m", {"max_num_seqs": 8}, 1)


# -- the loop itself: executor = "ray" stores what executor = "local" stores -----------------------


def test_a_two_generation_loop_on_ray_stores_what_the_local_executor_stores(
    cluster, tmp_path, cache, test_model
):
    from loop_helpers import fake_preset

    from iterdeploy.config import load_config
    from iterdeploy.loop.orchestrator import start_run
    from iterdeploy.loop.store import Store

    preset = fake_preset(tmp_path / "p.toml", test_model)
    local = start_run(load_config(preset), tmp_path / "local")
    remote = start_run(load_config(preset, ["loop.executor=ray"]), tmp_path / "ray")
    with Store(local / "store.sqlite") as a, Store(remote / "store.sqlite") as b:
        assert b.digests() == a.digests()
        markers = "SELECT run, generation, stage, chunk FROM stages ORDER BY 1, 2, 3, 4"
        assert [tuple(r) for r in b.query(markers)] == [tuple(r) for r in a.query(markers)]
        assert b.query("SELECT COUNT(*) FROM traces")[0][0] > 0
    assert 'executor = "ray"' in (remote / "config.toml").read_text()
