"""The `transformers` backend: batched sampling with a KV cache and per-sample random streams.

Why not `model.generate`: it draws from the global torch RNG, so a sample depends on everything
generated before it in the process. Here every (prompt, sample) row gets its own stream of
uniforms, drawn up front from `torch.Generator(sample_seed(seeds[i], j))`, and a token is drawn
by inverting the row's (top-k/top-p filtered) CDF at the next uniform. What is batch-invariant:
  - the random numbers: exactly (they depend on (seeds[i], j) and the step only);
  - padding: rows are left-padded with masked positions and explicit position ids, so a row's
    logits do not depend on its neighbours mathematically;
  - the logits numerically: on CPU in fp32 (the default there), every trace. Batched matmuls
    and attention over other padded lengths round differently, around 1e-6 in fp32 and 1e-2 in
    bf16, and a token flips when its uniform lands that close to a CDF boundary: in bf16 about
    a quarter of 128-token traces of the embedded model changed with the batch composition,
    in fp32 none (docs/models.md). GPU kernels (bf16 by default there) give no such guarantee.
Rows are sorted by prompt length before batching (less padding) and finished rows leave the
batch and the KV cache, so one long trace does not keep its whole batch busy.
"""

from __future__ import annotations

import inspect
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from transformers import DynamicCache

from iterdeploy.errors import ConfigError
from iterdeploy.generation.base import (
    Backend,
    SamplingParams,
    Trace,
    build_trace,
    sample_seed,
)
from iterdeploy.generation.options import TransformersOptions
from iterdeploy.hfmodels import is_peft_adapter, load_causal_lm, load_tokenizer, pick_dtype
from iterdeploy.prompting.build import render_chat

if TYPE_CHECKING:
    from transformers import PreTrainedModel

log = logging.getLogger(__name__)


def sampling_dtype(dtype: str, device: str) -> torch.dtype:
    """Return the dtype to sample in on `device`: "auto" is bf16 on a CUDA GPU that has it,
    else fp32.

    Not bf16 on CPU even with AMX or AVX512-BF16: in bf16 a sample depends on its batch (see the
    module docstring), and on this project's AVX512-BF16 CPU fp32 sampled 2.2x faster anyway.
    """
    if dtype != "auto":
        return pick_dtype(dtype)
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


@dataclass(frozen=True, slots=True)
class _Row:
    """One sample to draw: prompt `prompt`'s sample `sample`, its token ids and its limit."""

    prompt: int
    sample: int
    ids: list[int]
    limit: int  # new tokens allowed: max_tokens, or less when the context would overflow


class TransformersBackend(Backend):
    """Sample from a transformers causal LM (base model, PEFT adapter, or full checkpoint).

    Args:
        model: hub id or directory of the BASE model; adapters are passed per `generate` call.
        options: the fields of `TransformersOptions` (batch_size, dtype, device, ...).
    """

    def __init__(self, model: str | Path, **options: Any) -> None:
        opts = TransformersOptions(**options)
        self.base = str(model)
        self.batch_size = opts.batch_size
        auto = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = auto if opts.device == "auto" else opts.device
        self.dtype = sampling_dtype(opts.dtype, self.device)
        self.trust_remote_code = opts.trust_remote_code
        self.tokenizer = load_tokenizer(self.base, self.trust_remote_code)
        self._model: PreTrainedModel | None = None
        self._loaded: str | None = None  # adapter path of the loaded model ("" = base)
        self._load("")
        self._stops = self._stop_ids()
        pad = self.tokenizer.pad_token_id
        self._pad = pad if pad is not None else self._stops[0]

    # -- models ------------------------------------------------------------------------------

    def _load(self, adapter: str) -> PreTrainedModel:
        """Return the model for `adapter` ("" = base), loading it if another one is loaded.

        A PEFT adapter is merged into a fresh copy of the base weights: generation then costs
        the same as the base model, and the base stays untouched on disk.
        """
        if self._loaded == adapter and self._model is not None:
            return self._model
        self._model = None  # free the previous model before loading the next
        path = Path(adapter)
        if adapter and not path.is_dir():
            raise ConfigError(
                f"adapter {adapter!r} is not a directory: pass a PEFT adapter directory or a "
                "full checkpoint directory written by iterdeploy.training"
            )
        if adapter and not is_peft_adapter(path):
            model = load_causal_lm(path, self.dtype, self.device, self.trust_remote_code)
        else:
            model = load_causal_lm(self.base, self.dtype, self.device, self.trust_remote_code)
            if adapter:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, path).merge_and_unload().eval()
        log.info("loaded %s%s (%s, %s)", self.base, f" + {adapter}" if adapter else "",
                 self.dtype, self.device)  # fmt: skip
        self._model, self._loaded = model, adapter
        return model

    def _stop_ids(self) -> list[int]:
        """Return the token ids that end a trace: the model's eos ids and the tokenizer's."""
        eos = self._model.generation_config.eos_token_id if self._model is not None else None
        ids = [eos] if isinstance(eos, int) else list(eos or [])
        if self.tokenizer.eos_token_id is not None:
            ids.append(self.tokenizer.eos_token_id)
        if not ids:
            raise ConfigError(
                f"model {self.base!r} defines no eos token: set eos_token in its tokenizer"
            )
        return sorted(set(ids))

    def close(self) -> None:
        self._model = None
        self._loaded = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # -- generation --------------------------------------------------------------------------

    def _generate(
        self,
        prompts: list[str],
        params: SamplingParams,
        seeds: list[int],
        adapter: str | Path | None,
    ) -> list[list[Trace]]:
        model = self._load(str(adapter) if adapter else "")
        rows = self._rows(prompts, params)
        rows.sort(key=lambda r: len(r.ids))
        out: list[list[Trace | None]] = [[None] * params.n for _ in prompts]
        for start in range(0, len(rows), self.batch_size):
            batch = rows[start : start + self.batch_size]
            t0 = time.perf_counter()
            uniforms = [self._uniforms(seeds[r.prompt], r.sample, r.limit) for r in batch]
            results = decode_batch(model, batch, uniforms, params, self._stops, self._pad)
            share = (time.perf_counter() - t0) / len(batch)
            for row, (ids, stopped) in zip(batch, results, strict=True):
                out[row.prompt][row.sample] = self._trace(ids, stopped, share)
        log.info("generated %d traces for %d prompts", len(rows), len(prompts))
        return out  # type: ignore[return-value]  # every slot was filled above

    def _rows(self, prompts: list[str], params: SamplingParams) -> list[_Row]:
        """Return one row per (prompt, sample), with the chat-templated prompt token ids."""
        max_positions = getattr(self._model.config, "max_position_embeddings", None) or 1 << 30
        rows = []
        for i, prompt in enumerate(prompts):
            text = render_chat(self.tokenizer, prompt)
            ids = self.tokenizer.encode(text, add_special_tokens=False)
            limit = min(params.max_tokens, max_positions - len(ids))
            if limit < 1:
                raise ConfigError(
                    f"prompt {i} has {len(ids)} tokens, which fills the model's context of "
                    f"{max_positions}: use a shorter prompt template (e.g. 'compact')"
                )
            rows += [_Row(i, j, ids, limit) for j in range(params.n)]
        return rows

    @staticmethod
    def _uniforms(seed: int, sample: int, length: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(sample_seed(seed, sample))
        return torch.rand(length, generator=generator, dtype=torch.float64)

    def _trace(self, ids: list[int], stopped: bool, seconds: float) -> Trace:
        body = ids[:-1] if stopped else ids
        text = self.tokenizer.decode(body, skip_special_tokens=True)
        return build_trace(
            text,
            count_tokens=self.count_tokens,
            output_tokens=len(ids),
            truncated=not stopped,
            seconds=seconds,
        )

    def count_tokens(self, text: str) -> int:
        """Return the number of tokens of `text` (no special tokens added)."""
        return len(self.tokenizer.encode(text, add_special_tokens=False))


@torch.inference_mode()
def decode_batch(
    model: PreTrainedModel,
    rows: list[_Row],
    uniforms: list[torch.Tensor],
    params: SamplingParams,
    stops: list[int],
    pad: int,
) -> list[tuple[list[int], bool]]:
    """Return (new token ids, stopped at a stop token) for each row, decoding them together."""
    device = model.device
    input_ids, mask = left_pad([r.ids for r in rows], pad)
    input_ids, mask = input_ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    limits = torch.tensor([r.limit for r in rows])
    noise = torch.zeros((len(rows), int(limits.max())), dtype=torch.float64)
    for k, u in enumerate(uniforms):
        noise[k, : len(u)] = u
    stop_ids = torch.tensor(stops, device=device)
    cache_kwarg = (
        "cache" if "cache" in inspect.signature(model.forward).parameters else ("past_key_values")
    )
    cache = DynamicCache(config=model.config)
    active = torch.arange(len(rows))  # original index of each row still being decoded
    history: list[tuple[torch.Tensor, torch.Tensor]] = []  # (active rows, their new tokens)
    for step in range(int(limits.max())):
        logits = model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **{cache_kwarg: cache},
        ).logits[:, -1, :]
        tokens = sample_tokens(logits.float(), params, noise[active, step].to(device))
        history.append((active, tokens.cpu()))
        done = torch.isin(tokens, stop_ids).cpu() | (limits[active] <= step + 1)
        keep = (~done).nonzero().flatten()
        if len(keep) == 0:
            break
        mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=-1)
        positions, input_ids = positions[:, -1:] + 1, tokens[:, None]
        if len(keep) < len(active):  # finished rows leave the batch and the KV cache
            on_device = keep.to(device)
            cache.batch_select_indices(on_device)
            mask, positions, input_ids = mask[on_device], positions[on_device], input_ids[on_device]
            active = active[keep]
    generated: list[list[int]] = [[] for _ in rows]
    for step_rows, step_tokens in history:
        for row, token in zip(step_rows.tolist(), step_tokens.tolist(), strict=True):
            generated[row].append(token)
    return [(ids, ids[-1] in stops) for ids in generated]


def left_pad(sequences: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (input ids, attention mask), left-padded to the longest sequence."""
    width = max(map(len, sequences))
    input_ids = torch.full((len(sequences), width), pad, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for k, ids in enumerate(sequences):
        input_ids[k, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        mask[k, width - len(ids) :] = 1
    return input_ids, mask


def sample_tokens(logits: torch.Tensor, params: SamplingParams, u: torch.Tensor) -> torch.Tensor:
    """Return one token per row: argmax when greedy, else the filtered CDF inverted at `u`.

    `logits` is (rows, vocab) in fp32; `u` holds one uniform in [0, 1) per row.
    """
    if params.greedy:
        return logits.argmax(-1)
    logits = logits / params.temperature
    if params.top_k:
        logits, index = logits.topk(min(params.top_k, logits.shape[-1]), dim=-1)
    elif params.top_p < 1:
        logits, index = logits.sort(dim=-1, descending=True)
    else:
        index = None
    probs = torch.softmax(logits, dim=-1)
    if params.top_p < 1:  # probs are sorted here: keep the smallest prefix with mass >= top_p
        before = probs.cumsum(-1) - probs
        probs = probs.masked_fill(before >= params.top_p, 0.0)
    cdf = probs.double().cumsum(-1)
    target = (u.double() * cdf[:, -1]).unsqueeze(-1)
    choice = torch.searchsorted(cdf, target, right=True).clamp(max=cdf.shape[-1] - 1)
    return choice.squeeze(-1) if index is None else index.gather(-1, choice).squeeze(-1)
