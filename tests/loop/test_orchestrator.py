"""The loop's bookkeeping on the fake backend (real pool, validator and training)."""

from __future__ import annotations

import json

import pytest
from loop_helpers import fake_preset, rows

from iterdeploy.config import load_config
from iterdeploy.errors import StoreError
from iterdeploy.loop.orchestrator import read_summaries, resume_run, start_run
from iterdeploy.loop.stages import format_table
from iterdeploy.loop.store import Store


@pytest.fixture(scope="module")
def finished(tmp_path_factory, cache, test_model):
    root = tmp_path_factory.mktemp("fake-run")
    config = load_config(fake_preset(root / "p.toml", test_model))
    return start_run(config, root / "run")


def test_every_task_sample_and_generation_is_stored_once(finished):
    counts = rows(
        finished,
        "SELECT generation, split, COUNT(*) AS n, COUNT(DISTINCT task_id) AS t "
        "FROM traces JOIN tasks USING (task_id) GROUP BY 1, 2 ORDER BY 1, 2",
    )
    got = [(r["generation"], r["split"], r["n"], r["t"]) for r in counts]
    assert got == [
        (g, s, n, t) for g in range(3) for s, n, t in (("heldout", 12, 6), ("pool", 54, 18))
    ]


def test_heldout_traces_never_enter_a_dataset(finished):
    leaked = rows(
        finished,
        "SELECT COUNT(*) AS n FROM dataset_examples JOIN tasks USING (task_id)"
        " WHERE split = 'heldout'",
    )
    assert leaked[0]["n"] == 0
    assert rows(finished, "SELECT COUNT(*) AS n FROM dataset_examples")[0]["n"] > 0


def test_datasets_are_trl_jsonl_matching_their_digest_and_lineage(finished):
    import hashlib

    for d in rows(finished, "SELECT * FROM datasets ORDER BY generation"):
        text = (finished / d["path"]).read_text()
        assert hashlib.sha256(text.encode()).hexdigest() == d["digest"]
        lines = [json.loads(line) for line in text.splitlines()]
        assert len(lines) == d["size"] and all(set(x) == {"prompt", "completion"} for x in lines)
        lineage = rows(
            finished,
            "SELECT e.task_id, tr.text, tr.valid, t.prompt "
            "FROM dataset_examples e JOIN traces tr ON tr.run = e.run AND "
            "tr.generation = e.source_generation AND tr.task_id = e.task_id "
            "AND tr.sample = e.sample JOIN tasks t ON t.task_id = e.task_id "
            "WHERE e.generation = ? ORDER BY e.position",
            (d["generation"],),
        )
        assert [(x["prompt"], x["completion"]) for x in lines] == [
            (r["prompt"], r["text"]) for r in lineage
        ]
        assert all(r["valid"] for r in lineage)  # the paper policy keeps valid traces only
        assert len({r["task_id"] for r in lineage}) == len(lineage)  # one per task


def test_each_generation_after_the_first_is_trained_from_the_base(finished):
    models = rows(finished, "SELECT * FROM models ORDER BY generation")
    assert [m["kind"] for m in models][0] == "base"
    assert len({m["base"] for m in models}) == 1
    for m in models[1:]:
        assert m["kind"] in ("lora", "full") and (finished / m["adapter_path"]).is_dir()
        assert (
            m["dataset_digest"]
            == rows(
                finished, "SELECT digest FROM datasets WHERE generation = ?", (m["generation"],)
            )[0]["digest"]
        )
        assert json.loads(m["losses"])


def test_summary_json_matches_the_store(finished):
    summaries = read_summaries(finished)
    assert [s.generation for s in summaries] == [0, 1, 2]
    for s in summaries:
        valid = rows(
            finished,
            "SELECT COUNT(DISTINCT task_id) AS n FROM traces JOIN tasks "
            "USING (task_id) WHERE generation = ? AND valid = 1 AND "
            "split = 'pool'",
            (s.generation,),
        )[0]["n"]
        assert s.pool_solved == valid and s.pool_tasks == 18 and s.heldout_tasks == 6
        # This small pool has no copies of a problem: problem counts equal task counts.
        assert (s.pool_problems, s.pool_problems_solved) == (18, valid)
        assert (s.heldout_problems, s.heldout_problems_solved) == (6, s.heldout_solved)
    assert summaries[0].newly_solved == summaries[0].pool_solved
    assert summaries[0].curated_size == 0 and summaries[1].curated_size > 0
    # The default loop.deploy = "newest": each generation's own model samples its pool.
    assert [s.deployed for s in summaries] == [0, 1, 2]
    assert not rows(finished, "SELECT 1 FROM stages WHERE stage = 'gate'")
    table = format_table(summaries)
    assert table.splitlines()[0].split()[0] == "gen" and len(table.splitlines()) == 4  # no note


def test_store_records_validator_deployments_and_events(finished):
    gens = rows(finished, "SELECT validator, validator_version FROM generations")
    assert {g["validator"] for g in gens} == {"iterdeploy.pddl.validate"}
    deployed = rows(finished, "SELECT generation, action FROM deployments ORDER BY id")
    assert [(d["generation"], d["action"]) for d in deployed] == [(g, "deploy") for g in range(3)]
    kinds = [r["kind"] for r in rows(finished, "SELECT kind FROM events ORDER BY id")]
    assert kinds.count("model-trained") == 2 and kinds[0] == "run-created"
    assert rows(finished, "SELECT finished_at FROM runs")[0]["finished_at"] is not None


def test_resuming_a_finished_run_changes_nothing(finished):
    with Store(finished / "store.sqlite") as store:
        before = store.digests(), store.query("SELECT COUNT(*) AS n FROM events")[0]["n"]
    resume_run(finished)
    with Store(finished / "store.sqlite") as store:
        after = store.digests(), store.query("SELECT COUNT(*) AS n FROM events")[0]["n"]
    assert before == after


def test_a_resume_refuses_an_edited_config(finished, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    path = copy / "config.toml"
    path.write_text(path.read_text().replace("generations = 2", "generations = 3"))
    with pytest.raises(StoreError, match="no longer matches"):
        resume_run(copy)
    with pytest.raises(StoreError, match="already holds a run"):
        start_run(load_config(), copy)
    with pytest.raises(StoreError, match="not a run folder"):
        resume_run(tmp_path / "nowhere")


def test_counter_reward_checks_are_stored_and_required(tmp_path, cache, test_model):
    extra = (
        '[curation]\npolicy = "none"\nrequire = ["short"]\n\n[[curation.checks]]\n'
        'name = "short"\nkind = "length-ratio"\nmax_ratio = 1.0\n\n[[curation.checks]]\n'
        'name = "no-pick"\nkind = "forbidden"\nactions = ["pick-up"]\n'
    )
    config = load_config(
        fake_preset(tmp_path / "p.toml", test_model, extra), ["loop.generations=1"]
    )
    folder = start_run(config, tmp_path / "run")
    traces = rows(
        folder, "SELECT tr.*, t.reference_length FROM traces tr JOIN tasks t USING (task_id)"
    )
    for t in traces:
        checks = json.loads(t["checks"])
        assert set(checks) == {"short", "no-pick"}
        plan = json.loads(t["plan"])
        assert checks["short"] == (bool(plan) and len(plan) <= t["reference_length"])
        assert checks["no-pick"] == (bool(plan) and not any("pick-up" in s for s in plan))
    kept = rows(
        folder,
        "SELECT tr.checks FROM dataset_examples e JOIN traces tr ON "
        "tr.task_id = e.task_id AND tr.generation = e.source_generation AND "
        "tr.sample = e.sample AND tr.run = e.run",
    )
    assert kept and all(json.loads(k["checks"])["short"] for k in kept)


def test_each_output_is_split_into_reasoning_and_answer_once(
    tmp_path, cache, test_model, monkeypatch
):
    import iterdeploy.generation.base as base
    import iterdeploy.prompting.extract as extract

    calls = []
    real = extract.split_reasoning

    def counting(text):
        calls.append(text)
        return real(text)

    monkeypatch.setattr(base, "split_reasoning", counting)
    monkeypatch.setattr(extract, "split_reasoning", counting)
    config = load_config(
        fake_preset(tmp_path / "p.toml", test_model),
        ["loop.generations=0", "loop.validation_workers=0"],
    )
    folder = start_run(config, tmp_path / "run")
    texts = [r["text"] for r in rows(folder, "SELECT text FROM traces")]
    assert texts and sorted(calls) == sorted(texts)
