"""How to sample from a model: `SamplingParams`, the `[generation]` table of a run config.

Standard library only, so the run config can hold it without importing a backend;
`iterdeploy.generation.base` re-exports it for the backends.
"""

from __future__ import annotations

from dataclasses import dataclass

from iterdeploy.errors import require


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """How to sample: `n` traces per prompt, each at most `max_tokens` new tokens."""

    n: int = 1  # traces per prompt
    temperature: float = 0.6  # paper setting; 0 means greedy decoding
    top_p: float = 1.0  # nucleus mass kept; 1.0 disables it
    top_k: int = 0  # most likely tokens kept; 0 disables it
    max_tokens: int = 512  # new tokens per trace; a trace that reaches it is truncated

    def __post_init__(self) -> None:
        checks = {
            "n": (self.n >= 1, "an integer >= 1"),
            "temperature": (self.temperature >= 0, "a number >= 0 (0 = greedy)"),
            "top_p": (0 < self.top_p <= 1, "a number in (0, 1]"),
            "top_k": (self.top_k >= 0, "an integer >= 0 (0 = off)"),
            "max_tokens": (self.max_tokens >= 1, "an integer >= 1"),
        }
        for key, (ok, allowed) in checks.items():
            require(ok, f"generation.{key}", getattr(self, key), allowed)

    @property
    def greedy(self) -> bool:
        """Return True when decoding is greedy (temperature 0)."""
        return self.temperature == 0
