"""A text summary of a pool: tasks per split and difficulty, and reference plan lengths."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

from iterdeploy.domains.base import Task

_BAR_WIDTH = 40


def describe_pool(tasks: Sequence[Task]) -> str:
    """Return the summary `iterdeploy tasks show` prints for `tasks`."""
    if not tasks:
        return "empty pool"
    from iterdeploy.domains.pool import content_key

    domains = ", ".join(sorted({task.domain for task in tasks}))
    keys = {split: {content_key(t.problem) for t in tasks if t.split == split}
            for split in ("pool", "heldout")}  # fmt: skip
    lines = [
        f"{len(tasks)} tasks ({domains}), {len(keys['pool'] | keys['heldout'])} distinct problems:"
        f" pool {len(keys['pool'])}, held-out {len(keys['heldout'])}, in both splits "
        f"{len(keys['pool'] & keys['heldout'])}",
        "",
        "level   pool  heldout  plan length min/median/max",
    ]
    for level in sorted({task.difficulty for task in tasks}):
        group = [task for task in tasks if task.difficulty == level]
        splits = Counter(task.split for task in group)
        lengths = [task.reference_length for task in group]
        lines.append(
            f"{level:>5} {splits['pool']:>6} {splits['heldout']:>8}  "
            f"{min(lengths)}/{statistics.median(lengths):g}/{max(lengths)}"
        )
    splits = Counter(task.split for task in tasks)
    lines.append(f"{'all':>5} {splits['pool']:>6} {splits['heldout']:>8}")
    optimal = sum(task.optimal for task in tasks)
    lines += ["", f"reference plans: {optimal} of {len(tasks)} proved optimal", ""]
    lines += length_histogram([task.reference_length for task in tasks])
    return "\n".join(lines)


def length_histogram(lengths: Sequence[int], bins: int = 10) -> list[str]:
    """Return text rows of a histogram of plan lengths in equal-width bins."""
    low, high = min(lengths), max(lengths)
    width = max(1, -(-(high - low + 1) // bins))  # ceiling division
    counts = Counter((length - low) // width for length in lengths)
    peak = max(counts.values())
    rows = ["plan length histogram"]
    for b in range(max(counts) + 1):
        start = low + b * width
        label = f"{start}-{start + width - 1}" if width > 1 else f"{start}"
        bar = "#" * max(1 if counts[b] else 0, round(_BAR_WIDTH * counts[b] / peak))
        rows.append(f"{label:>9} {counts[b]:>5} {bar}")
    return rows
