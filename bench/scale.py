"""Benchmark of the executors: validation and generation throughput, local against Ray.

  nice python bench/scale.py                 # both benchmarks, 3 repeats
  nice python bench/scale.py --only validate --repeats 5

Validation: the same (task, output) items scored by the local executor in this process (1
worker) and on a process pool (2 workers), and by the ray executor as 1 and 2 Ray tasks.
Generation: the same shards (tiny random Qwen3, fp32) by the local executor (one backend in
this process, torch on 2 threads) and by the ray executor with 1 actor on 2 threads (the same
compute: the overhead of Ray), 1 actor on 1 thread and 2 actors on 1 thread each. Actor
start-up is timed apart and left out of the throughput. Contenders run side by side,
alternating, and medians are reported; the overhead of Ray is the ratio of ray (1 task, or 1
actor on 2 threads) to local (in-process) on the same work. A local Ray
cluster on 127.0.0.1 with 2 CPUs is started and shut down by the script.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see DESIGN.md §7

import argparse  # noqa: E402
import functools  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import ray  # noqa: E402

from iterdeploy.config import RunConfig  # noqa: E402
from iterdeploy.domains.pool import build_pool, load_pool  # noqa: E402
from iterdeploy.embedded.model import build_random_model  # noqa: E402
from iterdeploy.generation.base import SamplingParams  # noqa: E402
from iterdeploy.generation.hf import TransformersBackend  # noqa: E402
from iterdeploy.loop.executors import WORKER_ENV, LocalExecutor, RayExecutor, Shard  # noqa: E402
from iterdeploy.loop.setup import domain_texts, prompt_for  # noqa: E402
from iterdeploy.loop.stages import Validator  # noqa: E402


def validation_items(tasks, copies: int) -> list[tuple[str, str]]:
    """Return `copies` x (valid plan, plan missing its last step, garbage) per task."""
    items = []
    for _ in range(copies):
        for t in tasks:
            plan = "\n".join(t.reference_plan)
            items.append((t.id, f"<think>\nok\n</think>\n{plan}"))
            items.append((t.id, "<think>\nhm\n</think>\n" + "\n".join(t.reference_plan[:-1])))
            items.append((t.id, "</think>(unstack ((( zz"))
    return items


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_validation(tasks, validator, repeats: int) -> None:
    items = validation_items(tasks, copies=64)
    contenders = {
        "local, 1 worker (in-process)": LocalExecutor(lambda: None, validator, workers=1),
        "local, 2 workers (processes)": LocalExecutor(lambda: None, validator, workers=2),
        "ray, 1 task": RayExecutor(lambda: None, validator, validation_tasks=1),
        "ray, 2 tasks": RayExecutor(lambda: None, validator, validation_tasks=2),
    }
    for executor in contenders.values():  # warm up: pools spawned, object store filled
        executor.validate(items[:64])
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, executor in contenders.items():
            times[name].append(timed(lambda e=executor: e.validate(items)))
    for executor in contenders.values():
        executor.close()
    print(f"\nvalidation: {len(items)} outputs of {len(tasks)} tasks, {repeats} repeats")
    report(times, len(items), "plans/s", "local, 1 worker (in-process)", "ray, 1 task")


def bench_generation(tasks, prompts, model: Path, repeats: int) -> None:
    params = SamplingParams(n=4, temperature=1.0, max_tokens=64)
    shards = [
        Shard(i, tuple(prompts[t.id] for t in tasks[k : k + 4]), tuple(range(k, k + 4)), params)
        for i, k in enumerate(range(0, 32, 4))
    ]
    traces = sum(len(s.prompts) * params.n for s in shards)
    factory = functools.partial(TransformersBackend, str(model), dtype="float32", batch_size=16)
    contenders = {"local (in-process, 2 threads)": LocalExecutor(factory, None, workers=1)}
    for workers, threads in ((1, 2), (1, 1), (2, 1)):
        executor = RayExecutor(factory, None, workers=workers, cpus_per_worker=threads)
        startup = timed(executor.worker_pids)
        print(f"ray: {workers} actor(s) started in {startup:.1f} s (model loaded in each)")
        name = f"ray, {workers} actor{'s' * (workers > 1)} x {threads} thread{'s' * (threads > 1)}"
        contenders[name] = executor
    for executor in contenders.values():  # warm up: backends built, first batch run
        list(executor.generate(shards[:2]))
    times: dict[str, list[float]] = {name: [] for name in contenders}
    tokens = 0
    for _ in range(repeats):
        for name, executor in contenders.items():
            start = time.perf_counter()
            out = list(executor.generate(shards))
            times[name].append(time.perf_counter() - start)
            tokens = sum(t.output_tokens for _, rows in out for row in rows for t in row)
    for executor in contenders.values():
        executor.close()
    print(f"\ngeneration: {len(shards)} shards, {traces} traces, {tokens} tokens, tiny test model")
    local, ray_one = "local (in-process, 2 threads)", "ray, 1 actor x 2 threads"
    report(times, traces, "traces/s", local, ray_one, tokens=tokens)


def report(times, work: int, unit: str, local: str, ray_one: str, tokens: int = 0) -> None:
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name, median in medians.items():
        extra = f", {tokens / median:7.0f} tokens/s" if tokens else ""
        spread = f"[{min(times[name]):.2f}-{max(times[name]):.2f}]"
        print(f"  {name:32s} {median:7.2f} s {spread:>13s}  {work / median:8.0f} {unit}{extra}")
    print(f"  overhead of Ray on the same work: {medians[ray_one] / medians[local]:.2f}x "
          f"(ray 1 / local 1, medians)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("validate", "generate"), default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="iterdeploy-bench-scale-"))
    tasks = load_pool(build_pool("blocksworld", 48, 0, scratch / "pool", levels=[0, 1, 2]))
    prompts = {t.id: prompt_for(RunConfig(), t) for t in tasks}
    validator = Validator(tasks, domain_texts(tasks), ())
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             runtime_env={"env_vars": dict(WORKER_ENV)}, log_to_driver=False)  # fmt: skip
    try:
        if args.only in (None, "validate"):
            bench_validation(tasks, validator, args.repeats)
        if args.only in (None, "generate"):
            model = build_random_model(scratch / "model", seed=0, size="test")
            bench_generation(tasks, prompts, model, args.repeats)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
