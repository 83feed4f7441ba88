"""Validator speed: ours vs unified-planning's SequentialPlanValidator, same plans, one run.

Usage: nice .venv/bin/python bench/validate.py [--domain blocksworld] [--tasks 12]
                                              [--steps 80-120] [--repeat 5] [--adl]

Corpus: IPC-2023 reference solutions of the domain with --steps steps (default: Blocksworld,
80-120), plus one mutation of each (drop, swap, replace-arg, truncate in turn), so about half
the plans are invalid. For each plan we time, side by side:
- ours, warm: a prepared checker that has seen the plan before (the loop's case: one task,
  many samples sharing steps); median over --repeat rounds;
- ours, cold: a freshly prepared checker (grounding every step; preparation not timed);
- unified-planning: plan parsing + SequentialPlanValidator on a problem parsed once.
Prints per-plan medians, plans/s and the ratios UP/ours, plus prepare and parse times.

--adl runs the same comparison on an ADL domain instead: unified-planning's own miconic file
(full ADL: forall, exists, imply, or in preconditions, conditional effects under forall, a
quantified goal), on --tasks generated problems (8 floors, 6 passengers) solved by Fast
Downward, each plan plus one mutation.

`python bench/validate.py startup [--repeat 21]` times one whole `iterdeploy validate D P PLAN`
process against `python -c pass` (the interpreter's floor), alternating, and prints the medians,
their ratio and the slowest imports of one call (`python -X importtime`).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from iterdeploy.pddl.mutate import MUTATIONS, mutate_plan
from iterdeploy.pddl.parser import load_domain, load_problem
from iterdeploy.pddl.plan import plan_lines
from iterdeploy.pddl.validate import prepare

BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"  # as in the tests
ROOT = Path(os.environ.get("ITERDEPLOY_BENCHMARKS", BENCHMARKS)) / "ipc2023-learning"


def corpus(domain: str, count: int, low: int, high: int) -> list[tuple[Path, list[str]]]:
    """Return (problem path, steps) for `count` tasks: the reference plan and one mutation."""
    chosen = []
    for path in sorted((ROOT / "solutions" / domain).glob("*/*/*.plan")):
        steps = plan_lines(path.read_text())
        problem = ROOT / domain / path.parts[-3] / path.parts[-2] / path.name
        if low <= len(steps) <= high and problem.with_suffix(".pddl").is_file():
            chosen.append((problem, steps))
    rng = random.Random(0)
    out = []
    for index, (plan_path, steps) in enumerate(chosen[:count]):
        problem = plan_path.with_suffix(".pddl")
        objects = sorted(o.name for o in load_problem(problem).objects)
        out.append((problem, steps))
        out.append((problem, mutate_plan(rng, steps, objects, MUTATIONS[index % 4])[1]))
    return out


def time_ours(
    domain_path: Path, plans: list[tuple[Path, list[str]]], repeat: int
) -> tuple[list, list, list, list]:
    """Return per-plan seconds (warm, cold), prepare seconds, and the verdicts."""
    domain = load_domain(domain_path)
    warm, cold, prep, verdicts = [], [], [], []
    for problem_path, steps in plans:
        problem = load_problem(problem_path)
        start = time.perf_counter()
        checker = prepare(domain, problem)
        prep.append(time.perf_counter() - start)
        start = time.perf_counter()
        verdicts.append(checker.validate(steps))
        cold.append(time.perf_counter() - start)
        rounds = []
        for _ in range(repeat):
            start = time.perf_counter()
            checker.validate(steps)
            rounds.append(time.perf_counter() - start)
        warm.append(median(rounds))
    return warm, cold, prep, verdicts


def time_up(domain_path: Path, plans: list[tuple[Path, list[str]]]) -> tuple[list, list, list]:
    """Return per-plan seconds (parse plan + validate), problem-parse seconds, validity."""
    from unified_planning.engines.plan_validator import SequentialPlanValidator
    from unified_planning.engines.results import ValidationResultStatus
    from unified_planning.exceptions import UPException
    from unified_planning.io import PDDLReader
    from unified_planning.shortcuts import get_environment

    get_environment().credits_stream = None
    logging.getLogger("unified_planning").setLevel(logging.ERROR)
    reader, validator = PDDLReader(), SequentialPlanValidator()
    per_plan, parse, valid = [], [], []
    for problem_path, steps in plans:
        start = time.perf_counter()
        problem = reader.parse_problem(str(domain_path), str(problem_path))
        parse.append(time.perf_counter() - start)
        start = time.perf_counter()
        try:  # UP rejects unknown objects and wrong types while reading the plan
            plan = reader.parse_plan_string(problem, "\n".join(steps) + "\n")
            ok = validator.validate(problem, plan).status == ValidationResultStatus.VALID
        except UPException:
            ok = False
        per_plan.append(time.perf_counter() - start)
        valid.append(ok)
    return per_plan, parse, valid


def adl_corpus(
    folder: Path, count: int, floors: int = 8, passengers: int = 6
) -> tuple[Path, list[tuple[Path, list[str]]]]:
    """Return unified-planning's miconic domain and (problem, steps) for `count` generated
    problems written to `folder`: Fast Downward's plan and one mutation of each."""
    import unified_planning

    from iterdeploy.domains.planner import LAMA_FIRST, run_fast_downward

    domain = Path(unified_planning.__file__).parent / "test" / "pddl" / "miconic" / "domain.pddl"
    rng = random.Random(0)
    out = []
    for index in range(count):
        problem = folder / f"miconic-{index}.pddl"
        problem.write_text(_miconic_problem(rng, index, floors, passengers))
        plan, status = run_fast_downward(
            domain.read_text(), problem.read_text(), LAMA_FIRST, 60, 2048
        )
        if plan is None:
            raise SystemExit(f"Fast Downward found no plan for {problem}: {status}")
        objects = sorted(o.name for o in load_problem(problem).objects)
        out.append((problem, list(plan)))
        out.append((problem, mutate_plan(rng, list(plan), objects, MUTATIONS[index % 4])[1]))
    return domain, out


def _miconic_problem(rng: random.Random, index: int, floors: int, passengers: int) -> str:
    """Return a miconic problem: each passenger between two random floors, lift at f0."""
    names = [f"f{i}" for i in range(floors)]
    init = [f"(above {a} {b})" for i, a in enumerate(names) for b in names[i + 1 :]]
    for p in range(passengers):
        origin, destin = rng.sample(names, 2)
        init += [f"(origin p{p} {origin})", f"(destin p{p} {destin})"]
    people = " ".join(f"p{p}" for p in range(passengers))
    return (
        f"(define (problem miconic-{index}) (:domain miconic)\n"
        f"  (:objects {people} - passenger {' '.join(names)} - floor)\n"
        f"  (:init (lift-at f0) {' '.join(init)})\n"
        "  (:goal (forall (?p - passenger) (served ?p))))\n"
    )


def report(domain_path: Path, plans: list[tuple[Path, list[str]]], repeat: int) -> None:
    """Time both validators on `plans` and print the comparison."""
    steps = median(len(s) for _, s in plans)
    warm, cold, prep, verdicts = time_ours(domain_path, plans, repeat)
    up, up_parse, up_valid = time_up(domain_path, plans)
    agree = sum(v.valid == u for v, u in zip(verdicts, up_valid, strict=True))
    print(f"plans: {len(plans)} (median {steps} steps), {sum(up_valid)} valid; agree {agree}")
    rows = [
        ("ours, warm", median(warm)),
        ("ours, cold", median(cold)),
        ("unified-planning", median(up)),
    ]
    for name, seconds in rows:
        print(f"{name:18s} {seconds * 1e3:9.3f} ms/plan {1 / seconds:11.0f} plans/s")
    print(f"ratio UP / ours warm: {median(up) / median(warm):8.0f}x")
    print(f"ratio UP / ours cold: {median(up) / median(cold):8.0f}x")
    print(f"prepare (ours): {median(prep) * 1e3:.2f} ms/task", end="; ")
    print(f"parse problem (UP): {median(up_parse) * 1e3:.1f} ms/task")


STARTUP_TASK = Path(__file__).resolve().parents[1] / "tests" / "pddl" / "data"


def time_startup(repeat: int) -> None:
    """Print median wall and CPU ms of `iterdeploy validate D P PLAN` and `python -c pass`.

    Bytecode is written and used (a warm-up call first), as after a normal install.
    """
    task = [str(STARTUP_TASK / f) for f in ("typed-domain.pddl", "typed-problem.pddl")]
    validate = [*task, str(STARTUP_TASK / "typed-plan.plan")]
    script = Path(sys.executable).parent / "iterdeploy"
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "iterdeploy validate": [str(script), "validate", *validate],
    }
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(repeat + 1):
        for name, command in commands.items():
            start, used = time.perf_counter(), _children_cpu()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
            if round_:  # round 0 writes the bytecode
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(_children_cpu() - used)
    print(f"medians of {repeat} alternating calls ({os.cpu_count()} cores), wall and CPU:")
    for name in commands:
        print(f"  {name:20s} {median(wall[name]) * 1e3:7.1f} ms {median(cpu[name]) * 1e3:7.1f} ms")
    floor, ours = (median(wall[name]) for name in commands)
    print(f"  ratio {ours / floor:.2f}x the floor (wall); {(ours - floor) * 1e3:.1f} ms above it")
    code = "from iterdeploy.cli import main; raise SystemExit(main())"
    command = [sys.executable, "-X", "importtime", "-c", code, "validate", *validate]
    lines = subprocess.run(command, capture_output=True, text=True, env=env).stderr.splitlines()
    rows = [line.split("|") for line in lines if line.startswith("import time:") and "|" in line]
    rows = [(int(r[1]), r[2].rstrip()) for r in rows if r[1].strip().isdigit()]
    print("slowest imports of one call (cumulative us):")
    for micros, name in sorted(rows, reverse=True)[:8]:
        print(f"  {micros:8d} {name}")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    if sys.argv[1:2] == ["startup"]:
        startup = argparse.ArgumentParser(description="start-up time of iterdeploy validate")
        startup.add_argument("--repeat", type=int, default=21, help="calls of each command")
        time_startup(startup.parse_args(sys.argv[2:]).repeat)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", default="blocksworld", help="an IPC-2023 domain")
    parser.add_argument("--tasks", type=int, default=12, help="tasks (2 plans each)")
    parser.add_argument("--steps", default="80-120", help="reference plan lengths, LOW-HIGH")
    parser.add_argument("--repeat", type=int, default=5, help="warm rounds per plan")
    parser.add_argument("--adl", action="store_true", help="ADL: miconic, generated problems")
    args = parser.parse_args()
    if args.adl:
        with tempfile.TemporaryDirectory(prefix="iterdeploy-bench-") as scratch:
            report(*adl_corpus(Path(scratch), args.tasks), args.repeat)
        return
    low, high = (int(x) for x in args.steps.split("-"))
    plans = corpus(args.domain, args.tasks, low, high)
    if not plans:
        raise SystemExit(f"no {args.domain} reference plan has {args.steps} steps")
    report(ROOT / args.domain / "domain.pddl", plans, args.repeat)


if __name__ == "__main__":
    main()
