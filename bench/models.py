"""Benchmarks of the model stage: generation, training and the embedded model's build.

  python bench/models.py generate   # transformers backend vs a bare model.generate loop
  python bench/models.py train      # SFT tokens/s, LoRA vs full fine-tuning
  python bench/models.py build      # build time of the embedded default model (no cache)

Each comparison runs its contenders side by side, alternating, and reports medians.
Run with `nice` on a shared machine. Scratch files go to a temporary directory.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see DESIGN.md §7

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from iterdeploy.embedded.model import build_random_model  # noqa: E402
from iterdeploy.generation.base import SamplingParams  # noqa: E402
from iterdeploy.generation.hf import TransformersBackend, left_pad  # noqa: E402
from iterdeploy.prompting.build import render_chat  # noqa: E402

PROMPT = (
    "domain: blocksworld\n"
    "actions: (pickup ?ob) (putdown ?ob) (stack ?ob ?underob) (unstack ?ob ?underob)\n"
    "objects: b1 b2 b3 b4 b5\n"
    "init: (arm-empty) (clear b1) (on b1 b2) (on b2 b3) (on-table b3) (clear b4) (on b4 b5) "
    "(on-table b5)\n"
    "goal: (on b3 b1) (on b5 b4) (on b2 b3)"
)


def bare_generate(model, tokenizer, prompts: list[str], batch: int, new_tokens: int) -> int:
    """Return the tokens produced by plain `model.generate` over `prompts`, `batch` at a time."""
    eos = tokenizer.eos_token_id
    total = 0
    for start in range(0, len(prompts), batch):
        texts = [render_chat(tokenizer, p) for p in prompts[start : start + batch]]
        ids = [tokenizer.encode(t, add_special_tokens=False) for t in texts]
        input_ids, mask = left_pad(ids, tokenizer.pad_token_id)
        with torch.inference_mode():
            out = model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                do_sample=True,
                temperature=1.0,
                top_k=0,
                top_p=1.0,
                max_new_tokens=new_tokens,
                pad_token_id=tokenizer.pad_token_id,
            )
        for row in out[:, input_ids.shape[1] :].tolist():
            total += row.index(eos) + 1 if eos in row else len(row)
    return total


def bench_generate(size: str, batches: list[int], new_tokens: int, repeats: int) -> None:
    """Print tokens/s of the transformers backend and of bare generate at each batch size."""
    with tempfile.TemporaryDirectory() as tmp:
        path = build_random_model(Path(tmp) / "model", seed=0, size=size)
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path).eval()
        backend = TransformersBackend(path, batch_size=max(batches))
        prompt_tokens = len(tokenizer.encode(render_chat(tokenizer, PROMPT)))
        print(f"model {size}, fp32, prompt {prompt_tokens} tokens, {new_tokens} new tokens")
        print("batch  backend tok/s  bare tok/s  ratio (medians of", repeats, "alternating runs)")
        for batch in batches:
            backend.batch_size = batch
            prompts = [PROMPT] * batch
            params = SamplingParams(n=1, temperature=1.0, max_tokens=new_tokens)
            ours, bare = [], []
            for r in range(repeats):
                t0 = time.perf_counter()
                traces = backend.generate(
                    prompts, params, seeds=[r * batch + i for i in range(batch)]
                )
                done = sum(t[0].output_tokens for t in traces)
                ours.append(done / (time.perf_counter() - t0))
                t0 = time.perf_counter()
                torch.manual_seed(r)
                done = bare_generate(model, tokenizer, prompts, batch, new_tokens)
                bare.append(done / (time.perf_counter() - t0))
            a, b = statistics.median(ours), statistics.median(bare)
            print(f"{batch:5d}  {a:13.0f}  {b:10.0f}  {a / b:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["generate", "train", "build"])
    parser.add_argument("--size", default="small", help="model size preset (embedded.model.SIZES)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.what == "generate":
        bench_generate(args.size, [1, 16, 64], args.new_tokens, args.repeats)


if __name__ == "__main__":
    main()
