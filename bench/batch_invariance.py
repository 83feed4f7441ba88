"""Batch invariance and speed of the transformers backend per dtype (docs/models.md).

  python bench/batch_invariance.py [--prompts 64] [--repeats 5] [--dtypes float32 bfloat16]

For each dtype, on a random-init model of the embedded model's shape: how many of the
`--prompts` x 8 traces (128 tokens, temperature 1) change when the same prompts are decoded in
batches of 37 instead of 64, and the tokens/s at batch 64 (the quickstart's), the dtypes
alternating, medians of `--repeats`. Run with `nice` on a shared machine.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see DESIGN.md §7

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from iterdeploy.embedded.model import build_random_model  # noqa: E402
from iterdeploy.generation.base import SamplingParams  # noqa: E402
from iterdeploy.generation.hf import TransformersBackend  # noqa: E402

PARAMS = SamplingParams(n=8, temperature=1.0, max_tokens=128)  # the quickstart's sampling


def prompts(count: int, seed: int = 0) -> list[str]:
    """Return `count` compact Blocksworld prompts of 2-6 blocks (so of several lengths)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        blocks = [f"b{i}" for i in range(1, rng.randint(2, 6) + 1)]
        init = ["(arm-empty)"] + [f"(on-table {b}) (clear {b})" for b in blocks]
        goal = [f"(on {a} {b})" for a, b in zip(blocks, blocks[1:], strict=False)]
        goal = goal[: rng.randint(1, len(goal))]
        out.append(
            f"domain: blocksworld\nobjects: {' '.join(blocks)}\ninit: {' '.join(init)}\n"
            f"goal: {' '.join(goal)}"
        )
    return out


def changed_traces(model: Path, dtype: str, texts: list[str]) -> int:
    """Return how many traces differ between batches of 64 and of 37 rows."""
    runs = []
    for batch in (64, 37):
        with TransformersBackend(model, batch_size=batch, dtype=dtype) as backend:
            traces = backend.generate(texts, PARAMS, seeds=list(range(len(texts))))
            runs.append([t.text for row in traces for t in row])
    return sum(a != b for a, b in zip(*runs, strict=True))


def tokens_per_second(model: Path, dtypes: list[str], repeats: int) -> dict[str, float]:
    """Return the median tokens/s of each dtype at batch 64, the dtypes alternating."""
    text = prompts(1)[0]
    params = SamplingParams(n=1, temperature=1.0, max_tokens=PARAMS.max_tokens)
    backends = {d: TransformersBackend(model, batch_size=64, dtype=d) for d in dtypes}
    rates: dict[str, list[float]] = {d: [] for d in dtypes}
    for r in range(repeats):
        for dtype, backend in backends.items():
            start = time.perf_counter()
            traces = backend.generate([text] * 64, params, seeds=[r * 64 + i for i in range(64)])
            done = sum(row[0].output_tokens for row in traces)
            rates[dtype].append(done / (time.perf_counter() - start))
    return {d: statistics.median(v) for d, v in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        model = build_random_model(Path(tmp) / "model", seed=0, size="small")
        texts = prompts(args.prompts)
        rates = tokens_per_second(model, args.dtypes, args.repeats)
        print(f"{args.prompts} prompts x {PARAMS.n} samples, {PARAMS.max_tokens} tokens")
        for dtype in args.dtypes:
            changed = changed_traces(model, dtype, texts)
            print(
                f"{dtype:9s} traces changed by the batch: {changed} of {len(texts) * PARAMS.n}; "
                f"batch 64: {rates[dtype]:.0f} tokens/s (median of {args.repeats})"
            )


if __name__ == "__main__":
    main()
