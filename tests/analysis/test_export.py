"""`export`: a `datasets`-loadable set that TRL's SFTTrainer tokenizes exactly as the loop did."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from datasets import load_dataset
from trl import SFTTrainer

from iterdeploy.analysis.export import export_dataset
from iterdeploy.cli import main
from iterdeploy.errors import ConfigError, StoreError
from iterdeploy.generation.hf import load_causal_lm, load_tokenizer
from iterdeploy.training.config import TrainConfig
from iterdeploy.training.sft import sft_args, to_dataset

COLUMNS = [
    "prompt", "completion", "trace_id", "task_id", "domain", "plan_length", "reasoning_tokens",
    "source_generation",
]  # fmt: skip


@pytest.fixture(scope="module")
def exported(run_folders, tmp_path_factory):
    return export_dataset(run_folders["paper"], 2, tmp_path_factory.mktemp("export"), run=1)


@pytest.fixture
def load(tmp_path):
    """`datasets.load_dataset` of an export folder, caching under the test's own folder."""
    return lambda folder: load_dataset(str(folder), split="train", cache_dir=str(tmp_path / "hf"))


def base_of(folder: Path, sql) -> str:
    return sql(folder, "SELECT base FROM models WHERE run = 1 AND generation = 2")[0]["base"]


def tokenized(base: str, dataset, scratch: Path, template: Path | None = None):
    """Return SFTTrainer's tokenized train set for `dataset`, with the loop's arguments."""
    model = load_causal_lm(base, torch.float32, "cpu", False)
    config = TrainConfig(method="full", dtype="float32", validation_fraction=0.0)
    args = sft_args(config, scratch, len(dataset), False, model.config)
    if template is not None:
        args.chat_template_path = str(template)
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=load_tokenizer(base)
    )
    return trainer.train_dataset


def test_export_loads_with_datasets_in_trl_conversational_form(exported, run_folders, sql, load):
    folder = run_folders["paper"]
    stored = sql(folder, "SELECT * FROM datasets WHERE run = 1 AND generation = 2")[0]
    train = load(exported.folder)
    assert train.column_names == COLUMNS and len(train) == stored["size"] == exported.size > 0
    curated = [json.loads(line) for line in (folder / stored["path"]).read_text().splitlines()]
    for row, example in zip(train, curated, strict=True):
        assert row["prompt"] == [{"role": "user", "content": example["prompt"]}]
        assert row["completion"] == [{"role": "assistant", "content": example["completion"]}]
        run, gen, task_id, sample = row["trace_id"].split("/")
        trace = sql(
            folder,
            "SELECT tr.plan_length, tr.reasoning_tokens, tr.valid, t.domain FROM traces tr "
            "JOIN tasks t USING (task_id) WHERE run = ? AND generation = ? AND task_id = ? "
            "AND sample = ?",
            (int(run), int(gen), task_id, int(sample)),
        )[0]
        assert (run, gen, task_id) == ("1", str(row["source_generation"]), row["task_id"])
        assert trace["valid"] == 1 and trace["domain"] == row["domain"]
        assert (trace["plan_length"], trace["reasoning_tokens"]) == (
            row["plan_length"], row["reasoning_tokens"],
        )  # fmt: skip
    data = exported.source.read_bytes()  # the set as trained, byte for byte
    assert hashlib.sha256(data).hexdigest() == stored["digest"] == exported.digest
    assert data == (folder / stored["path"]).read_bytes()


def test_sft_trainer_tokenizes_the_export_as_the_loop_did(
    exported, run_folders, sql, tmp_path, load
):
    folder = run_folders["paper"]
    base = base_of(folder, sql)
    stored = sql(folder, "SELECT path FROM datasets WHERE run = 1 AND generation = 2")[0]
    rows = [json.loads(line) for line in (folder / stored["path"]).read_text().splitlines()]
    loop = tokenized(base, to_dataset(rows, load_tokenizer(base)), tmp_path / "loop")
    train = load(exported.folder)
    export = tokenized(base, train, tmp_path / "export", exported.template)
    assert len(export) == len(loop) == len(rows)
    assert export["input_ids"] == loop["input_ids"]
    assert export["labels"] == loop["labels"]  # the loss covers the same completion tokens
    # Without the exported template, the model's own renders other tokens: what it guards.
    plain = tokenized(base, train, tmp_path / "plain")
    assert plain["input_ids"] != loop["input_ids"]


def test_dataset_card_states_config_lineage_digests_and_validator(exported, run_folders, sql):
    folder = run_folders["paper"]
    card = exported.card.read_text()
    assert card.startswith("---\nconfigs:\n- config_name: default\n")
    stored = sql(folder, "SELECT digest FROM datasets WHERE run = 1 AND generation = 2")[0]
    model = sql(folder, "SELECT adapter_digest FROM models WHERE run = 1 AND generation = 2")[0]
    validator = sql(folder, "SELECT validator_version FROM generations LIMIT 1")[0]
    for fact in (
        stored["digest"],
        model["adapter_digest"],
        validator["validator_version"],
        hashlib.sha256(exported.path.read_bytes()).hexdigest(),
        hashlib.sha256(exported.template.read_bytes()).hexdigest(),
        "chat_template_path",
        (folder / "config.toml").read_text().strip(),
    ):
        assert fact in card


def test_cli_export_without_out_writes_inside_the_run_and_prints_it(paper_copy, capsys, load):
    assert main(["export", str(paper_copy), "1"]) == 0
    out = capsys.readouterr().out
    folder = paper_copy / "exports" / "r0-g1"
    assert f"export folder: {folder}" in out
    assert len(load(folder)) > 0


def test_exports_of_one_name_from_two_runs_load_their_own_rows(run_folders, tmp_path, load, sql):
    """`datasets` caches a local folder by its name and file names: the rows' file name carries
    their digest, so the second `r0-g1` is not served from the first one's cache."""
    sizes = []
    for policy in ("paper", "none"):
        export_dataset(run_folders[policy], 1, tmp_path / policy / "r0-g1")
        sizes.append(len(load(tmp_path / policy / "r0-g1")))
    stored = [
        sql(run_folders[p], "SELECT size FROM datasets WHERE run = 0 AND generation = 1")[0]["size"]
        for p in ("paper", "none")
    ]
    assert sizes == stored and stored[0] != stored[1]


def test_export_refuses_a_modified_snapshot(paper_copy, tmp_path, sql):
    stored = sql(paper_copy, "SELECT path FROM datasets WHERE run = 0 AND generation = 1")[0]
    with open(paper_copy / stored["path"], "a", encoding="utf-8") as fh:
        fh.write('{"prompt": "x", "completion": "y"}\n')
    with pytest.raises(StoreError, match="modified after curation"):
        export_dataset(paper_copy, 1, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_of_a_missing_generation_lists_what_exists(run_folders, tmp_path):
    with pytest.raises(ConfigError, match="available: r0-g1"):
        export_dataset(run_folders["paper"], 0, tmp_path)
