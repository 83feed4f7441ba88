"""Benchmarks of the model stage: generation, training and the embedded model's build.

  python bench/models.py generate   # transformers backend vs a bare model.generate loop
  python bench/models.py train      # SFT tokens/s, LoRA vs full fine-tuning
  python bench/models.py build [--variant "batch_size=32 learning_rate=6e-3"]...
                                    # embedded model recipes: build time and probe, side by side
  python bench/models.py deploy --model DIR [--batch 64 --batch 128] [--dtype float32]
                                    # sampling as the quickstart does: traces/s and tokens/s

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

PROMPT = (  # a compact prompt of a 5-block task
    "domain: blocksworld\n"
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
        print("tokens per wall second and per CPU second (all threads); medians of", repeats)
        print("batch  backend wall  bare wall  ratio | backend cpu  bare cpu  ratio")
        for batch in batches:
            backend.batch_size = batch
            prompts = [PROMPT] * batch
            params = SamplingParams(n=1, temperature=1.0, max_tokens=new_tokens)
            runs: dict[str, list[tuple[float, float]]] = {"ours": [], "bare": []}
            for r in range(repeats):
                seeds = [r * batch + i for i in range(batch)]
                w0, c0 = time.perf_counter(), time.process_time()
                traces = backend.generate(prompts, params, seeds=seeds)
                done = sum(t[0].output_tokens for t in traces)
                runs["ours"].append(rates(done, w0, c0))
                w0, c0 = time.perf_counter(), time.process_time()
                torch.manual_seed(r)
                done = bare_generate(model, tokenizer, prompts, batch, new_tokens)
                runs["bare"].append(rates(done, w0, c0))
            (ow, oc), (bw, bc) = (medians(runs[k]) for k in ("ours", "bare"))
            wall = f"{ow:12.0f}  {bw:9.0f}  {ow / bw:5.2f}"
            print(f"{batch:5d}  {wall} | {oc:11.0f}  {bc:8.0f}  {oc / bc:5.2f}")


def bench_deploy(models: list[str], batches: list[int], dtypes: list[str], tasks: int) -> None:
    """Print traces/s and tokens/s of the transformers backend sampling as the quickstart does
    (fresh Blocksworld tasks of levels 0-1, compact prompt, n = 8, T = 1.0, 128 new tokens at
    most) for each model folder x batch size x dtype. Traces/s compares models whose tokenizers
    differ; tokens/s does not."""
    import random

    from iterdeploy.domains import DOMAINS
    from iterdeploy.prompting.build import build_prompt

    spec, rng = DOMAINS.get("blocksworld"), random.Random(7)
    prompts = [
        build_prompt(
            "compact",
            spec.name,
            spec.domain_pddl,
            spec.generate(rng, spec.sample_params(rng, spec.level_ranges(i % 2))),
        )
        for i in range(tasks)
    ]
    params = SamplingParams(n=8, temperature=1.0, max_tokens=128)
    print("model | dtype | batch | traces/s wall | tokens/s wall | tokens/trace")
    for model in models:
        for dtype in dtypes:
            for batch in batches:
                with TransformersBackend(model, batch_size=batch, dtype=dtype) as backend:
                    t0 = time.perf_counter()
                    traces = backend.generate(prompts, params, seeds=list(range(tasks)))
                    wall = time.perf_counter() - t0
                tokens = sum(t.output_tokens for row in traces for t in row)
                count = tasks * params.n
                print(
                    f"{model} | {dtype} | {batch} | {count / wall:.0f} | {tokens / wall:.0f} | "
                    f"{tokens / count:.1f}",
                    flush=True,
                )


def rates(tokens: int, wall0: float, cpu0: float) -> tuple[float, float]:
    """Return (tokens per wall second, tokens per CPU second) since (wall0, cpu0)."""
    return tokens / (time.perf_counter() - wall0), tokens / (time.process_time() - cpu0)


def medians(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def bench_train(size: str, examples: int, repeats: int) -> None:
    """Print SFT tokens/s (paper settings: batch 1, 1 epoch here) of LoRA and full fine-tuning."""
    from iterdeploy.embedded.walks import WalkSpec, walk_examples
    from iterdeploy.training.config import TrainConfig
    from iterdeploy.training.sft import train

    spec = WalkSpec(("blocksworld",), (0, 1, 2, 3), max_steps=10, max_reasoning_lines=8)
    data = list(walk_examples(spec, examples, seed=0))
    with tempfile.TemporaryDirectory() as tmp:
        base = build_random_model(Path(tmp) / "base", seed=0, size=size)
        runs: dict[str, list[tuple[float, float]]] = {"lora": [], "full": []}
        for r in range(repeats):
            for method in runs:
                config = TrainConfig(method=method, epochs=1, validation_fraction=0.0, seed=r)
                w0, c0 = time.perf_counter(), time.process_time()
                result = train(base, data, config, Path(tmp) / method)
                runs[method].append(rates(result.tokens, w0, c0))
    (lw, lc), (fw, fc) = (medians(runs[m]) for m in ("lora", "full"))
    print(f"model {size}, {examples} walk examples, batch 1, medians of {repeats} alternating runs")
    print(f"tokens/s wall: LoRA r16 {lw:.0f}, full {fw:.0f}, full/LoRA {fw / lw:.2f}")
    print(f"tokens/s CPU:  LoRA r16 {lc:.0f}, full {fc:.0f}, full/LoRA {fc / lc:.2f}")


def bench_build(variants: list[list[str]], tasks: int) -> None:
    """Print, per embedded-model recipe, its build time (empty cache) and its probe on fresh
    Blocksworld tasks of levels 0-1 at T = 1.0, n = 4: legal plans (no step breaks a
    precondition), valid plans, tasks solved. Each variant is a list of `field=value` overrides
    of `EmbeddedConfig`; [] is the default recipe."""
    import dataclasses
    import resource

    from iterdeploy.config import _parse_value
    from iterdeploy.embedded.cache import EmbeddedConfig, ensure_model
    from iterdeploy.embedded.probe import probe

    print("recipe | build wall s | build CPU s | legal plans | valid plans | tasks solved")
    for overrides in variants:
        fields = dict(item.split("=", 1) for item in overrides)
        config = EmbeddedConfig(**{k: _parse_value(v) for k, v in fields.items()})
        with tempfile.TemporaryDirectory() as tmp:
            t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
            path = ensure_model(tmp, config)
            c1 = resource.getrusage(resource.RUSAGE_SELF)
            wall, cpu = (
                time.perf_counter() - t0,
                c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime,
            )
            params = SamplingParams(n=4, temperature=1.0, max_tokens=128)
            result = probe(path, levels=(0, 1), tasks=tasks, params=params, dtype=config.dtype)
        total = result.tasks * result.samples
        legal = result.reasons.get("ok", 0) + result.reasons.get("goal-not-reached", 0)
        name = " ".join(overrides) or "default"
        changed = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
        print(
            f"{name} | {wall:.0f} | {cpu:.0f} | {legal / total:.1%} | {result.solve_rate:.1%} | "
            f"{result.solved_tasks:.1%}",
            flush=True,
        )
        print(f"  config {changed}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["generate", "train", "build", "deploy"])
    parser.add_argument("--model", action="append", default=[], help="deploy: model folders")
    parser.add_argument("--batch", type=int, action="append", default=[], help="deploy: rows")
    parser.add_argument("--dtype", action="append", default=[], help="deploy: float32, ...")
    parser.add_argument("--size", default="small", help="model size preset (embedded.model.SIZES)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=100)
    parser.add_argument("--examples", type=int, default=200, help="training examples (train)")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="build: an embedded recipe as space-separated EmbeddedConfig field=value overrides; "
        "repeat to compare recipes side by side (default: the default recipe)",
    )
    parser.add_argument("--tasks", type=int, default=128, help="fresh tasks the build probes")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.what == "generate":
        bench_generate(args.size, [1, 16, 64], args.new_tokens, args.repeats)
    elif args.what == "deploy":
        bench_deploy(args.model, args.batch or [64, 128], args.dtype or ["float32"], args.tasks)
    elif args.what == "train":
        bench_train(args.size, args.examples, args.repeats)
    else:
        bench_build([v.split() for v in args.variant] or [[]], args.tasks)


if __name__ == "__main__":
    main()
