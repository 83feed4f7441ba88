"""Export a curated set as a Hugging Face dataset that TRL trains on exactly as the loop did.

The folder `export` writes:

    README.md             dataset card: what trained what, digests, validator, run config
    data/train-<sha12>.jsonl   TRL conversational prompt-completion rows plus lineage columns
    chat_template.jinja   the base model's chat template, wrapped (see `training_template`)
    source/r<run>-g<gen>.jsonl   the curated set byte for byte as the loop trained on it

The loop trains on the prompt in the model's chat template *with its generation prompt*,
followed by the completion and the eos token (`training/sft.py`). A chat template renders a
final assistant turn its own way (Qwen3-style templates leave out the `<think>` that the
generation prompt opens, and add a newline after the eos), so TRL given the messages alone
would train on other tokens, silently. `chat_template.jinja` renders a final assistant turn
as the loop did and everything else as the model's template; pass it to TRL with
`SFTConfig(chat_template_path=...)`.

The rows' file name carries the start of their sha256: `datasets` caches a local folder under
its name and file names, not their contents, so two exports both called `r0-g1` with a fixed
file name would load the first one's rows from the cache, silently.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iterdeploy.analysis.data import open_store
from iterdeploy.errors import ConfigError, StoreError
from iterdeploy.loop.store import Store, reads
from iterdeploy.records import format_trace_id

log = logging.getLogger(__name__)

# Renders the prompt messages alone when a tokenizer has no chat template (the loop then
# trained on the raw prompt text: `prompting.build.render_chat`).
PLAIN_TEMPLATE = "{%- for message in messages %}{{ message['content'] }}{%- endfor %}"

COLUMNS = (
    ("prompt", "list of messages", "the task prompt as one user message (before the template)"),
    ("completion", "list of messages", "the trace as one assistant message, as the model wrote it"),
    ("trace_id", "string", "RUN/GENERATION/TASK_ID/SAMPLE: `iterdeploy lineage RUN TRACE_ID`"),
    ("task_id", "string", "the task in the run's pool"),
    ("domain", "string", "the PDDL domain"),
    ("plan_length", "int", "steps of the extracted (valid) plan"),
    ("reasoning_tokens", "int", "tokens before `</think>`"),
    ("source_generation", "int", "the generation whose model wrote the trace"),
)


@dataclass(frozen=True, slots=True)
class Export:
    """What `export_dataset` wrote."""

    folder: Path  # load it with datasets.load_dataset(str(folder))
    path: Path  # data/train-<sha12>.jsonl
    source: Path  # the curated set, byte-identical to the one the model was trained on
    digest: str  # sha256 of `source`, equal to the store's record
    size: int
    card: Path
    template: Path


def default_out(folder: str | Path, generation: int, run: int = 0) -> Path:
    """Return where `iterdeploy export RUN GEN` writes without --out: inside the run folder."""
    return Path(folder) / "exports" / f"r{run}-g{generation}"


def export_dataset(
    folder: str | Path, generation: int, out: str | Path | None = None, run: int = 0
) -> Export:
    """Write the curated set that trained (run, generation) as a dataset folder and return it.

    The set is checked against the digest the store recorded before anything is written.
    """
    folder = Path(folder)
    out = Path(out) if out is not None else default_out(folder, generation, run)
    with open_store(folder) as store:
        dataset = _dataset_row(store, folder, run, generation)
        examples = reads.dataset_examples(store, run, generation)
        model = reads.model_summary(store, run, generation)
        validator = reads.first_validator(store, run)
        run_id = store.get_meta("run_id") or folder.name
    data = _verified(folder, dataset)
    curated = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    if len(curated) != len(examples):
        raise StoreError(
            f"{folder / dataset['path']} holds {len(curated)} examples but the store lists "
            f"{len(examples)}; the run folder is inconsistent"
        )
    rows = [_row(run, example, e) for example, e in zip(curated, examples, strict=True)]
    base = model["base"] if model else None
    template = training_template(_chat_template(base)) if base else PLAIN_TEMPLATE
    stem = f"r{run}-g{generation}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(exist_ok=True)
    (out / "source").mkdir(exist_ok=True)
    source = out / "source" / f"{stem}.jsonl"
    source.write_bytes(data)
    (out / "source" / f"{stem}.jsonl.sha256").write_text(
        f"{dataset['digest']}  {source.name}\n", encoding="utf-8"
    )
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    for old in (out / "data").glob("train-*.jsonl"):  # a previous export to this folder
        old.unlink()
    train = out / "data" / f"train-{_sha(text.encode())[:12]}.jsonl"
    train.write_text(text, "utf-8")
    template_path = out / "chat_template.jinja"
    template_path.write_text(template, encoding="utf-8")
    facts = {
        "run_id": run_id,
        "run": run,
        "generation": generation,
        "dataset": dict(dataset),
        "model": dict(model) if model else None,
        "validator": dict(validator) if validator else None,
        "rows": rows,
        "train": train.name,
        "digests": {
            "source": dataset["digest"],
            "train": _sha(train.read_bytes()),
            "template": _sha(template.encode()),
        },
        "config": (folder / "config.toml").read_text(encoding="utf-8")
        if (folder / "config.toml").is_file()
        else "",
    }
    card = out / "README.md"
    card.write_text(dataset_card(facts), encoding="utf-8")
    log.info("exported %s (%d examples, sha256 %s)", out, len(rows), dataset["digest"][:12])
    return Export(out, train, source, dataset["digest"], len(rows), card, template_path)


def training_template(template: str | None) -> str:
    """Return a chat template that renders a final assistant turn as the loop trained on it.

    Prompt messages render through `template` (the model's) with the generation prompt, then
    the assistant content follows as written, then the eos token unless it ends with one; any
    other conversation renders through `template` unchanged.
    """
    return (
        "{%- set final = messages[-1]['content'] if messages[-1]['role'] == 'assistant' "
        "else none -%}\n"
        "{%- if final is not none -%}{%- set messages = messages[:-1] -%}"
        "{%- set add_generation_prompt = true -%}{%- endif -%}\n"
        + (template or PLAIN_TEMPLATE)
        + "\n{%- if final is not none -%}{{ final }}"
        "{%- if not final.endswith(eos_token) -%}{{ eos_token }}{%- endif -%}{%- endif -%}"
    )


def dataset_card(facts: dict[str, Any]) -> str:
    """Return the README.md of an export: YAML header for `datasets`, then the facts."""
    ds, model, validator = facts["dataset"], facts["model"], facts["validator"]
    sources: dict[int, int] = {}
    for row in facts["rows"]:
        sources[row["source_generation"]] = sources.get(row["source_generation"], 0) + 1
    by_source = ", ".join(f"generation {g}: {n}" for g, n in sorted(sources.items())) or "none"
    columns = "\n".join(f"| `{name}` | {kind} | {what} |" for name, kind, what in COLUMNS)
    run_id, run, gen = facts["run_id"], facts["run"], facts["generation"]
    trained = (
        f"{model['kind']} fine-tune of `{model['base']}`, weights sha256 "
        f"`{model['adapter_digest']}`"
        if model and model["adapter_digest"]
        else "not trained yet (or the set was empty)"
    )
    return f"""---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/{facts["train"]}
task_categories:
- text-generation
tags:
- iterdeploy
- pddl
- planning
---

# Curated set r{run}-g{gen} of run `{run_id}`

The {len(facts["rows"])} examples that generation {gen} of run {run} was fine-tuned on: valid
traces selected by curation policy `{ds["policy"]}` (parameters `{ds["params"]}`) from the
traces of generations 0..{gen - 1}. Examples by the generation that wrote them: {by_source}.

## Train on it as the loop did

```python
from datasets import load_dataset
from trl import SFTConfig, SFTTrainer

train = load_dataset("path/to/this/folder", split="train")
args = SFTConfig(chat_template_path="path/to/this/folder/chat_template.jinja", ...)
```

Rows are TRL's conversational prompt-completion form. `chat_template.jinja` is the base model's
chat template, wrapped so the assistant turn renders as the loop trained on it: the prompt
with the generation prompt, then the trace, then the eos token. Without it TRL renders the
assistant turn through the model's own template, which for Qwen3-style models drops the opened
`<think>` and adds a newline: other tokens than the loop's.

## Columns

| column | type | meaning |
|---|---|---|
{columns}

## Lineage and digests

- run folder id `{run_id}`, run {run}, generation {gen}
- trained model: {trained}
- curated set as trained: `source/r{run}-g{gen}.jsonl`, sha256 `{facts["digests"]["source"]}`
  (the store's record; checked before export)
- `data/{facts["train"]}` sha256 `{facts["digests"]["train"]}`
- `chat_template.jinja` sha256 `{facts["digests"]["template"]}`
- validator: {validator["validator"] if validator else "-"} \
{validator["validator_version"] if validator else ""}

`iterdeploy lineage RUN_FOLDER TRACE_ID` shows, for any `trace_id`, the task, prompt digest,
seed, sampling settings, model and verdict.

## Run config

```toml
{facts["config"].rstrip()}
```
"""


def _dataset_row(store: Store, folder: Path, run: int, generation: int) -> Any:
    row = reads.dataset_summary(store, run, generation)
    if row is not None:
        return row
    have = [f"r{r['run']}-g{r['generation']}" for r in reads.dataset_keys(store)]
    raise ConfigError(
        f"run {run} has no curated set for generation {generation} in {folder}; "
        f"available: {', '.join(have) or 'none (generation 0 trains on nothing)'}"
    )


def _verified(folder: Path, dataset: Any) -> bytes:
    path = folder / dataset["path"]
    if not path.is_file():
        raise StoreError(f"{path} is missing; the run folder is incomplete")
    data = path.read_bytes()
    actual = _sha(data)
    if actual != dataset["digest"]:
        raise StoreError(
            f"{path} has digest {actual[:12]} but the store recorded {dataset['digest'][:12]}: "
            "the file was modified after curation; restore it from a backup"
        )
    return data


def _row(run: int, example: dict[str, str], e: Any) -> dict[str, Any]:
    if example["prompt"] != e["prompt"]:
        raise StoreError(
            f"curated example {e['position']} does not hold the prompt of task {e['task_id']}; "
            "the run folder is inconsistent"
        )
    return {
        "prompt": [{"role": "user", "content": example["prompt"]}],
        "completion": [{"role": "assistant", "content": example["completion"]}],
        "trace_id": format_trace_id(run, e["source_generation"], e["task_id"], e["sample"]),
        "task_id": e["task_id"],
        "domain": e["domain"],
        "plan_length": e["plan_length"],
        "reasoning_tokens": e["reasoning_tokens"],
        "source_generation": e["source_generation"],
    }


def _chat_template(base: str) -> str | None:
    """Return the chat template of the base model's tokenizer (None if it has none)."""
    from iterdeploy.registry import load_object

    load_tokenizer = load_object("iterdeploy.generation.hf:load_tokenizer", "iterdeploy export")
    tokenizer = load_tokenizer(base, False)  # a clear ConfigError if it is not available
    return getattr(tokenizer, "chat_template", None) or None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
