from __future__ import annotations

import json

import pytest

from iterdeploy.analysis.lineage import format_lineage, trace_lineage
from iterdeploy.errors import ConfigError
from iterdeploy.records import format_trace_id


def test_lineage_covers_every_curated_trace(run_folders, sql):
    folder = run_folders["paper"]
    examples = sql(folder, "SELECT * FROM dataset_examples ORDER BY run, generation, position")
    assert examples
    datasets = {
        (r["run"], r["generation"]): r["digest"] for r in sql(folder, "SELECT * FROM datasets")
    }
    for e in examples:
        trace_id = format_trace_id(e["run"], e["source_generation"], e["task_id"], e["sample"])
        lin = trace_lineage(folder, trace_id)
        assert lin.verdict["valid"] is True  # the paper rule curates valid traces only
        entered = {(x["generation"], x["position"], x["digest"]) for x in lin.entered}
        assert (e["generation"], e["position"], datasets[(e["run"], e["generation"])]) in entered


def test_lineage_names_model_dataset_validator_and_sampling(run_folders, sql):
    folder = run_folders["paper"]
    trace = sql(folder, "SELECT * FROM traces WHERE run = 1 AND generation = 2 LIMIT 1")[0]
    lin = trace_lineage(folder, format_trace_id(1, 2, trace["task_id"], trace["sample"]))
    model = sql(folder, "SELECT * FROM models WHERE run = 1 AND generation = 2")[0]
    gen = sql(folder, "SELECT * FROM generations WHERE run = 1 AND generation = 2")[0]
    assert lin.model["adapter_digest"] == model["adapter_digest"]
    assert lin.model["dataset_digest"] == model["dataset_digest"] == lin.trained_on["digest"]
    assert lin.validator == {"name": gen["validator"], "version": gen["validator_version"]}
    assert lin.sampling == json.loads(gen["sampling"])
    assert lin.prompt_digest == trace["prompt_digest"]
    assert lin.entered == ()  # generation 2 is the last: no later curated set
    text = format_lineage(lin)
    assert "validator" in text and "no curated set" in text
    assert json.loads(lin.to_json())["trace_id"] == lin.trace_id


def test_lineage_of_an_unknown_trace_is_a_usage_error(run_folders):
    with pytest.raises(ConfigError, match="no trace"):
        trace_lineage(run_folders["paper"], "0/1/no-such-task/0")
