"""Generation on a GPU Ray cluster with Ray Data's LLM batch processor (`ray.data.llm` + vLLM).

The `ray` executor hands shards to this path when the backend is `vllm` and the cluster has
GPUs: Ray Data then runs `concurrency` vLLM engines (one per GPU, or per `tensor_parallel_size`
GPUs), feeds them rows in batches and streams the outputs back. The prompt side is done on the
driver, exactly as the `vllm` backend does it, so both paths sample the same requests:
- each row is one sample: the prompt rendered in the model's chat template
  (`prompting.build.render_chat`) and tokenized without special tokens, with `n = 1` and the
  seed `sample_seed(seeds[i], j)`; Ray Data's own chat-template, tokenize and detokenize stages
  are switched off;
- the generation's LoRA adapter is named in the row's `model` column, which Ray Data turns into
  a vLLM `LoRARequest` on the base weights (no merging). The adapter folder must be readable at
  the same path on every GPU node (a shared filesystem, see docs/scale.md);
- outputs become `Trace`s on the driver with the base tokenizer (`build_trace`), so reasoning
  tokens are counted by the rule every backend records.
Building the config and the rows needs no GPU (the tests do it on CPU); running the processor
needs vLLM on the GPU nodes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iterdeploy.errors import ConfigError, require
from iterdeploy.generation.base import Trace, build_trace
from iterdeploy.generation.vllm import prompt_token_ids, sample_requests
from iterdeploy.loop.stages import Shard

log = logging.getLogger(__name__)

# Columns that travel with each row through the processor (Ray Data carries unused ones over).
KEYS = ("shard", "prompt_index", "sample", "limit")


@dataclass(frozen=True, slots=True)
class RayDataOptions:
    """The vLLM engines Ray Data runs; the engine keys mirror the `vllm` backend's options."""

    concurrency: int = 1  # vLLM engine replicas (data parallel), one per GPU by default
    batch_size: int = 64  # rows sent to an engine at a time
    dtype: str = "auto"
    max_model_len: int | None = None  # None: the model's own context length
    enable_lora: bool = True  # serve each generation's adapter as a LoRARequest
    max_lora_rank: int = 16  # the paper trains r=16
    tensor_parallel_size: int = 1  # GPUs one engine is split over
    pipeline_parallel_size: int = 1
    trust_remote_code: bool = False
    engine_args: dict[str, Any] = field(default_factory=dict)  # any other vLLM engine argument

    def __post_init__(self) -> None:
        require(self.concurrency >= 1, "ray data concurrency", self.concurrency, "an integer >= 1")
        require(self.batch_size >= 1, "ray data batch_size", self.batch_size, "an integer >= 1")


def processor_config(base: str, options: RayDataOptions) -> Any:
    """Return the `vLLMEngineProcessorConfig` of the base model with LoRA and our stages."""
    from ray.data.llm import vLLMEngineProcessorConfig

    engine = {
        "dtype": options.dtype,
        "enable_lora": options.enable_lora,
        "tensor_parallel_size": options.tensor_parallel_size,
        "pipeline_parallel_size": options.pipeline_parallel_size,
        "trust_remote_code": options.trust_remote_code,
    }
    if options.enable_lora:
        engine |= {"max_lora_rank": options.max_lora_rank, "max_loras": 1}
    if options.max_model_len is not None:
        engine["max_model_len"] = options.max_model_len
    engine |= options.engine_args
    return vLLMEngineProcessorConfig(
        model_source=base,
        engine_kwargs=engine,
        batch_size=options.batch_size,
        concurrency=options.concurrency,
        chat_template_stage=False,  # rendered on the driver, as every backend renders it
        tokenize_stage=False,
        detokenize_stage=False,  # vLLM's own detokenized text, as the vllm backend uses
    )


class RequestBuilder:
    """Turns shards into processor rows and processor outputs into traces (driver side)."""

    def __init__(
        self, base: str, max_model_len: int | None = None, trust_remote_code: bool = False
    ):
        from transformers import AutoConfig

        from iterdeploy.generation.hf import load_tokenizer

        self.base = base
        self.tokenizer = load_tokenizer(base, trust_remote_code)
        config = AutoConfig.from_pretrained(base, trust_remote_code=trust_remote_code)
        self.context = max_model_len or getattr(config, "max_position_embeddings", None) or 1 << 30
        eos = getattr(config, "eos_token_id", None)
        ids = [eos] if isinstance(eos, int) else list(eos or [])
        if self.tokenizer.eos_token_id is not None:
            ids.append(self.tokenizer.eos_token_id)
        self.stops = set(ids)

    def rows(self, shards: Sequence[Shard]) -> list[dict[str, Any]]:
        """Return one row per (shard, prompt, sample), in order: the `vllm` backend's requests
        (`generation.vllm.prompt_token_ids`, `sample_requests`)."""
        rows = []
        for shard in shards:
            model = str(Path(shard.adapter).resolve()) if shard.adapter else self.base
            for i, (prompt, seed) in enumerate(zip(shard.prompts, shard.seeds, strict=True)):
                where = f"shard {shard.index} prompt {i}"
                ids = prompt_token_ids(self.tokenizer, prompt, self.context, where)
                for j, sampling in enumerate(
                    sample_requests(shard.params, seed, len(ids), self.context)
                ):
                    rows.append({"shard": shard.index, "prompt_index": i, "sample": j,
                                 "limit": sampling["max_tokens"], "tokenized_prompt": ids,
                                 "sampling_params": sampling, "model": model})  # fmt: skip
        return rows

    def trace(self, row: dict[str, Any], seconds: float) -> Trace:
        """Return the `Trace` of one processor output row."""
        tokens = [int(t) for t in row["generated_tokens"]]
        stopped = bool(tokens) and tokens[-1] in self.stops
        return build_trace(
            str(row["generated_text"]),
            count_tokens=self.count_tokens,
            output_tokens=len(tokens),
            truncated=not stopped and len(tokens) >= int(row["limit"]),
            seconds=seconds,
        )

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))


def keep_columns(row: dict[str, Any]) -> dict[str, Any]:
    """Return what the driver needs of an output row (the processor's postprocess)."""
    return {
        **{key: row[key] for key in KEYS},
        "generated_text": row["generated_text"],
        "generated_tokens": list(row["generated_tokens"]),
    }


@dataclass(frozen=True, slots=True)
class RayDataLLM:
    """The Ray Data generation path of the `ray` executor: a base model and its engines."""

    base: str
    options: RayDataOptions = field(default_factory=RayDataOptions)

    @classmethod
    def from_backend_options(cls, base: str, backend_options: dict[str, Any], gpus: int):
        """Return the path for `model.backend_options` of the `vllm` backend on `gpus` GPUs.

        `concurrency` defaults to the engines that fit: gpus / (tensor x pipeline parallel).
        The vllm backend's `python`, `seed` and `data_parallel_size` have no meaning here.
        """
        names = set(RayDataOptions.__dataclass_fields__)
        ignored = {"python", "seed", "data_parallel_size"}
        unknown = sorted(set(backend_options) - names - ignored)
        if unknown:
            raise ConfigError(
                f"model.backend_options {unknown} are not options of Ray Data's vLLM engines; "
                f"allowed: {', '.join(sorted(names))}"
            )
        kwargs = {k: v for k, v in backend_options.items() if k in names}
        per_engine = kwargs.get("tensor_parallel_size", 1) * kwargs.get("pipeline_parallel_size", 1)
        kwargs.setdefault("concurrency", max(1, gpus // per_engine))
        return cls(base, RayDataOptions(**kwargs))

    def generate(self, shards: Sequence[Shard]) -> Iterator[tuple[Shard, list[list[Trace]]]]:
        """Yield (shard, traces) for each shard as soon as all of its samples came back."""
        import ray
        from ray.data.llm import build_processor

        if not shards:
            return
        options = self.options
        builder = RequestBuilder(self.base, options.max_model_len, options.trust_remote_code)
        rows = builder.rows(shards)
        processor = build_processor(processor_config(self.base, options), postprocess=keep_columns)
        by_index = {s.index: s for s in shards}
        got: dict[int, dict[tuple[int, int], dict[str, Any]]] = {s.index: {} for s in shards}
        start = time.perf_counter()
        log.info("ray data: %d samples of %d shards on %d vLLM engines", len(rows), len(shards),
                 options.concurrency)  # fmt: skip
        for out in processor(ray.data.from_items(rows)).iter_rows():
            index = int(out["shard"])
            if index not in got:  # a re-executed block sent a row of a finished shard again
                continue
            got[index][(int(out["prompt_index"]), int(out["sample"]))] = out
            shard = by_index[index]
            if len(got[index]) == len(shard.prompts) * shard.params.n:
                share = (time.perf_counter() - start) / len(rows)
                yield shard, to_traces(builder, shard, list(got.pop(index).values()), share)


def to_traces(
    builder: RequestBuilder, shard: Shard, outputs: list[dict[str, Any]], seconds: float
) -> list[list[Trace]]:
    """Return the shard's traces, `n` per prompt in prompt order, from its output rows."""
    table: list[list[Trace | None]] = [[None] * shard.params.n for _ in shard.prompts]
    for row in outputs:
        table[int(row["prompt_index"])][int(row["sample"])] = builder.trace(row, seconds)
    missing = sum(t is None for line in table for t in line)
    assert not missing, f"shard {shard.index}: {missing} samples did not come back"
    return table  # type: ignore[return-value]  # every slot was filled above
