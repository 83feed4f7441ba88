"""The stored trace: one record type for a row of the store's `traces` table.

The loop builds a `StoredTrace` from a model output and its verdict and the store writes it;
curation policies, the per-generation summaries and analysis read the same type back. Reads
that do not need the texts (analysis loads every trace of a run) leave `text` and `prompt`
empty; curation reads them. Standard library only, so every layer can import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from iterdeploy.errors import ConfigError


@dataclass(frozen=True, slots=True)
class StoredTrace:
    """One sampled output of the model on one task, with the validator's verdict."""

    run: int
    generation: int
    task_id: str
    sample: int  # 0..n-1 within (run, generation, task)
    split: str  # its task's split: "pool" or "heldout"
    valid: bool
    plan: tuple[str, ...] = ()  # the extracted steps (empty when none was found)
    reasoning_tokens: int = 0  # counted by generation.base.REASONING_TOKEN_RULE
    truncated: bool = False  # cut off at the token limit
    reason: str = "valid"  # a pddl.validate.Reason value: why the plan is (in)valid
    checks: Mapping[str, bool] = field(default_factory=dict)  # counter-reward name -> passed
    text: str = ""  # the full model output, reasoning and answer ("" when read without texts)
    prompt: str = ""  # the prompt it answered ("" when read without texts)
    seed: int = 0  # the task's seed; the backend derives this sample's seed from it
    prompt_digest: str = ""  # sha256 of the prompt
    output_tokens: int = 0  # tokens generated, the stop token included when one came
    extraction: str = ""  # the extraction rule that found the plan, or why none was found
    step: int | None = None  # 0-based failing step; None when valid or nothing was checked
    detail: str = ""  # the validator's explanation of an invalid plan
    unsatisfied: tuple[str, ...] = ()  # goal atoms left false at the end of the plan
    gen_seconds: float = 0.0  # its share of its generation batch's wall time
    val_seconds: float = 0.0  # validation and counter-reward checks

    @property
    def plan_length(self) -> int:
        """Return the number of steps in the extracted plan."""
        return len(self.plan)

    @property
    def key(self) -> tuple[int, int, str, int]:
        """Return the store's natural key (run, generation, task_id, sample)."""
        return (self.run, self.generation, self.task_id, self.sample)

    @property
    def trace_id(self) -> str:
        """Return the id `iterdeploy lineage` takes: run/generation/task_id/sample."""
        return format_trace_id(*self.key)


def format_trace_id(run: int, generation: int, task_id: str, sample: int) -> str:
    """Return a trace id, e.g. "0/2/blocksworld-0007/3"."""
    return f"{run}/{generation}/{task_id}/{sample}"


def parse_trace_id(text: str) -> tuple[int, int, str, int]:
    """Return (run, generation, task_id, sample) from a trace id."""
    parts = text.strip().split("/")
    try:
        if len(parts) < 4:
            raise ValueError("too few parts")
        return int(parts[0]), int(parts[1]), "/".join(parts[2:-1]), int(parts[-1])
    except ValueError as exc:
        raise ConfigError(
            f"trace id {text!r} is not RUN/GENERATION/TASK_ID/SAMPLE, e.g. 0/2/blocksworld-0007/3"
            " (`iterdeploy traces RUN` lists them)"
        ) from exc
