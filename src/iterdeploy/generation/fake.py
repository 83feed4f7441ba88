"""A backend that needs no model: oracle, corrupted or garbage plans at configured rates.

It exists so the loop's bookkeeping (store, resume, curation, summaries) can be tested on any
CPU in seconds; it never learns and is never the main job. Each prompt maps to its task's
reference plan. Sample j of a prompt draws from `random.Random(sample_seed(seed, j))` only,
so outputs do not depend on batching, as the `Backend` contract requires.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from iterdeploy.errors import ConfigError
from iterdeploy.generation.base import Backend, SamplingParams, Trace, build_trace, sample_seed
from iterdeploy.generation.options import FakeOptions

WORDS = ("consider", "the", "goal", "first", "then", "move", "block", "check", "state", "so")


class FakeBackend(Backend):
    """Answer each prompt with its reference plan, a corrupted plan, or garbage."""

    def __init__(
        self,
        model: str | Path = "fake",
        *,
        plans: Mapping[str, Sequence[str]],
        **options: Any,
    ) -> None:
        """`plans` maps each prompt to its reference plan; `options` are `FakeOptions`."""
        self.options = FakeOptions(**options)
        self.model = str(model)
        self.plans = {prompt: tuple(plan) for prompt, plan in plans.items()}

    def _generate(
        self,
        prompts: list[str],
        params: SamplingParams,
        seeds: list[int],
        adapter: str | Path | None,
    ) -> list[list[Trace]]:
        start = time.perf_counter()
        texts = [
            [self._sample(prompt, sample_seed(seed, j), params.max_tokens) for j in range(params.n)]
            for prompt, seed in zip(prompts, seeds, strict=True)
        ]
        share = (time.perf_counter() - start) / max(1, len(prompts) * params.n)  # per trace
        return [[self._trace(text, cut, params, share) for text, cut in row] for row in texts]

    def close(self) -> None:
        """Nothing to free."""

    def _sample(self, prompt: str, seed: int, max_tokens: int) -> tuple[str, bool]:
        if prompt not in self.plans:
            raise ConfigError("FakeBackend got a prompt it has no plan for: pass plans= for it")
        rng = random.Random(seed)
        reasoning = " ".join(
            rng.choice(WORDS) for _ in range(rng.randint(1, self.options.max_reasoning_words))
        )
        plan = list(self.plans[prompt])
        draw = rng.random()
        opts = self.options
        valid, corrupt, truncate = opts.valid_rate, opts.corrupt_rate, opts.truncate_rate
        if draw < valid:
            return f"<think>\n{reasoning}\n</think>\n" + "\n".join(plan), False
        if draw < valid + corrupt and plan:
            i = rng.randrange(len(plan))
            broken = plan[:i] + plan[i + 1 :] if rng.random() < 0.5 else plan[: i + 1] + plan[i:]
            return f"<think>\n{reasoning}\n</think>\n" + "\n".join(broken), False
        if draw < valid + corrupt + truncate:
            words = " ".join(rng.choice(WORDS) for _ in range(max_tokens))
            return f"<think>\n{words}", True
        return f"<think>\n{reasoning}\n</think>\nI cannot find a plan {rng.random():.3f}", False

    @staticmethod
    def _trace(text: str, truncated: bool, params: SamplingParams, seconds: float) -> Trace:
        words = len(text.split())
        return build_trace(
            text,
            count_tokens=lambda s: len(s.split()),
            output_tokens=min(words, params.max_tokens),
            truncated=truncated,
            seconds=seconds,
        )
