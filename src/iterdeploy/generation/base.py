"""The generation interface shared by every backend: sampling parameters, traces, `Backend`.

A backend turns prompts into traces: `generate(prompts, params, seeds=...)` returns `params.n`
traces per prompt. Sample j of prompt i is seeded by `sample_seed(seeds[i], j)` alone, so a
resumed run that re-sends only the missing prompts reproduces what a full run would have drawn.
`Backend` is a small template-method base class: `generate` checks the arguments and the shape
of the result; subclasses implement `_generate` and `close`. A backend is a context manager.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from iterdeploy.errors import BackendError, ConfigError
from iterdeploy.prompting.extract import split_reasoning
from iterdeploy.sampling import SamplingParams

# How `Trace.reasoning_tokens` is counted, recorded with every generation so that numbers from
# different backends and models are comparable only when this rule and the tokenizer match.
REASONING_TOKEN_RULE = (
    "len(tokenizer.encode(reasoning, add_special_tokens=False)) with the model's own tokenizer, "
    "where reasoning = prompting.extract.split_reasoning(text).reasoning: the text before the "
    "last '</think>' (after a leading '<think>' if any, tags excluded, stripped); 0 when the "
    "output has no '</think>'"
)


@dataclass(frozen=True, slots=True)
class Trace:
    """One model output: the full text, split into reasoning and answer."""

    text: str  # everything the model generated, special tokens removed
    reasoning: str  # text before the last </think>, stripped ("" if the tag never came)
    answer: str  # text after the last </think> (all of it if the tag never came)
    reasoning_tokens: int  # counted by REASONING_TOKEN_RULE
    output_tokens: int  # tokens generated, including the stop token when one was emitted
    truncated: bool  # True when generation stopped at max_tokens, not at a stop token
    seconds: float  # its share of the wall time: its batch's seconds / the traces in the batch


def sample_seed(seed: int, index: int) -> int:
    """Return the 63-bit seed of sample `index` of a prompt seeded with `seed`.

    >>> sample_seed(7, 0) == sample_seed(7, 0) != sample_seed(7, 1)
    True
    """
    digest = hashlib.sha256(f"iterdeploy-sample:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def build_trace(
    text: str,
    *,
    count_tokens: Callable[[str], int],
    output_tokens: int,
    truncated: bool,
    seconds: float,
) -> Trace:
    """Return the `Trace` of generated `text`, split at its last `</think>` (`split_reasoning`).

    `count_tokens` is the model's tokenizer applied to a string without special tokens (see
    `REASONING_TOKEN_RULE`).
    """
    split = split_reasoning(text)
    return Trace(
        text=text,
        reasoning=split.reasoning,
        answer=split.answer,
        reasoning_tokens=count_tokens(split.reasoning) if split.reasoning else 0,
        output_tokens=output_tokens,
        truncated=truncated,
        seconds=seconds,
    )


class Backend(ABC):
    """A model behind `generate`; subclasses implement `_generate` and `close`."""

    def generate(
        self,
        prompts: Sequence[str],
        params: SamplingParams,
        *,
        seeds: Sequence[int],
        adapter: str | Path | None = None,
    ) -> list[list[Trace]]:
        """Return `params.n` traces for each prompt, in prompt order.

        Args:
            prompts: raw prompt texts; a backend with a chat template applies it.
            seeds: one seed per prompt; sample j of prompt i uses `sample_seed(seeds[i], j)`.
            adapter: a LoRA adapter directory (or a full checkpoint from full fine-tuning) to
                generate with instead of the base model; None for the base model.
        """
        if len(seeds) != len(prompts):
            raise ConfigError(
                f"generate() got {len(prompts)} prompts but {len(seeds)} seeds: "
                "pass exactly one seed per prompt"
            )
        if not prompts:
            return []
        traces = self._generate(list(prompts), params, list(seeds), adapter)
        if len(traces) != len(prompts) or any(len(t) != params.n for t in traces):
            shape = [len(t) for t in traces]
            raise BackendError(
                f"{type(self).__name__} returned {shape} traces for {len(prompts)} prompts "
                f"x n={params.n}: this is a bug in the backend"
            )
        return traces

    @abstractmethod
    def _generate(
        self,
        prompts: list[str],
        params: SamplingParams,
        seeds: list[int],
        adapter: str | Path | None,
    ) -> list[list[Trace]]:
        """Return `params.n` traces per prompt; arguments are already checked."""

    @abstractmethod
    def close(self) -> None:
        """Free the model and its memory (a no-op for backends that hold none)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
