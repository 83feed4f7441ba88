"""The `iterdeploy` command line: thin typer commands over library functions.

Each command loads its inputs, calls one library function and prints a summary. Only this
module catches `IterdeployError`: it prints `Error: ...` on stderr and exits 2 for usage,
config and parse errors, 1 otherwise.
"""

from __future__ import annotations

import os
import sys

# Before torch is imported: busy-waiting OpenMP threads make 2-core CPU runs 5-50x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import typer  # noqa: E402

from iterdeploy.errors import IterdeployError  # noqa: E402

app = typer.Typer(
    name="iterdeploy",
    help="Run, measure and govern iterative deployment of LLM planners.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
tasks_app = typer.Typer(help="Build and inspect task pools.", no_args_is_help=True)
model_app = typer.Typer(help="Build and inspect the embedded default model.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
app.add_typer(model_app, name="model")


@app.command()
def version() -> None:
    """Print the installed iterdeploy version."""
    from iterdeploy import __version__

    typer.echo(__version__)


# ---- validate (iterdeploy.pddl) ------------------------------------------------------------

# Aliased imports: each section imports its own names, and these must not clash.
from pathlib import Path as _Path  # noqa: E402
from typing import Annotated as _Annotated  # noqa: E402


@app.command()
def validate(
    domain: _Annotated[
        _Path | None, typer.Argument(metavar="DOMAIN", help="Domain PDDL file.")
    ] = None,
    problem: _Annotated[
        _Path | None, typer.Argument(metavar="PROBLEM", help="Problem PDDL file.")
    ] = None,
    plan: _Annotated[
        _Path | None, typer.Argument(metavar="PLAN", help="Plan file: one (action args) per line.")
    ] = None,
    batch: _Annotated[
        _Path | None, typer.Option(help='JSONL of {"domain", "problem", "plan"} paths.')
    ] = None,
    json_: _Annotated[bool, typer.Option("--json", help="Print JSON (one line per plan).")] = False,
    verbose: _Annotated[bool, typer.Option("-v", "--verbose", help="Trace each step.")] = False,
) -> int:
    """Validate plans, VAL-style. Exit 0 if every plan is valid, 1 if not, 2 on unusable input."""
    from iterdeploy.pddl.batch import report_files

    return report_files(
        domain, problem, plan, batch, as_json=json_, verbose=verbose, out=typer.echo
    )


# ---- tasks (iterdeploy.domains) ------------------------------------------------------------

from pathlib import Path as _TasksPath  # noqa: E402  (each section imports what it uses)
from typing import Annotated as _TasksArg  # noqa: E402


@tasks_app.command("build")
def tasks_build(
    domain: _TasksArg[str, typer.Option(help="Domain, e.g. blocksworld, rovers, sokoban.")],
    out: _TasksArg[_TasksPath, typer.Option(help="Pool folder to write.")],
    size: _TasksArg[int, typer.Option(help="Number of tasks.")] = 1000,
    seed: _TasksArg[int, typer.Option(help="Seed of problems and split.")] = 0,
    max_level: _TasksArg[int | None, typer.Option(help="Use difficulty levels 0..N only.")] = None,
    heldout: _TasksArg[float, typer.Option(help="Held-out fraction per level.")] = 0.2,
    time_limit: _TasksArg[float, typer.Option(help="lama-first seconds per task.")] = 30.0,
    jobs: _TasksArg[int | None, typer.Option(help="Planner processes (default: cores).")] = None,
    force: _TasksArg[bool, typer.Option(help="Replace a different pool in --out.")] = False,
) -> None:
    """Build a task pool: seeded problems over the difficulty ladder, reference plans, split."""
    import logging

    from iterdeploy.domains.planner import PlannerConfig
    from iterdeploy.domains.pool import build_pool, load_pool
    from iterdeploy.domains.summary import describe_pool

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    levels = None if max_level is None else range(max_level + 1)
    planner = PlannerConfig(time_limit=time_limit)
    path = build_pool(
        domain,
        size,
        seed,
        out,
        levels=levels,
        heldout=heldout,
        planner=planner,
        jobs=jobs,
        force=force,
    )
    typer.echo(describe_pool(load_pool(path)) + f"\npool folder: {path}")


@tasks_app.command("show")
def tasks_show(pool: _TasksArg[_TasksPath, typer.Argument(help="A pool folder.")]) -> None:
    """Print a pool's tasks per split and difficulty and a histogram of plan lengths."""
    from iterdeploy.domains.pool import load_pool
    from iterdeploy.domains.summary import describe_pool

    typer.echo(describe_pool(load_pool(pool)))


@tasks_app.command("domains")
def tasks_domains() -> None:
    """List the domains with their generator parameters and difficulty levels."""
    from iterdeploy.domains import DOMAINS

    for name in DOMAINS.names():
        dom = DOMAINS.get(name)
        typer.echo(f"{name:<12} {len(dom.ladder)} levels  {', '.join(dom.parameters)}")


# ---- model (iterdeploy.embedded, iterdeploy.generation, iterdeploy.training) ---------------

from pathlib import Path as _ModelPath  # noqa: E402  (each section imports what it uses)
from typing import Annotated as _ModelArg  # noqa: E402

_CacheOption = _ModelArg[
    _ModelPath | None,
    typer.Option(help="Cache folder (default: $ITERDEPLOY_CACHE, else ~/.cache/iterdeploy)."),
]


@model_app.command("init")
def model_init(cache_dir: _CacheOption = None) -> None:
    """Build the embedded default model, or find it in the cache, and print its folder."""
    import logging

    from iterdeploy.registry import load_object

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    ensure_model = load_object("iterdeploy.embedded.cache:ensure_model", "the embedded model")
    typer.echo(ensure_model(cache_dir))


@model_app.command("info")
def model_info(
    model: _ModelArg[str | None, typer.Argument(help="Model folder (default: embedded).")] = None,
    tasks: _ModelArg[int, typer.Option(help="Fresh easy Blocksworld tasks to probe.")] = 32,
    cache_dir: _CacheOption = None,
) -> None:
    """Print a model's build record and its greedy solve rate on fresh easy Blocksworld tasks."""
    from iterdeploy.registry import load_object

    describe = load_object("iterdeploy.embedded.probe:describe", "model info")
    typer.echo(describe(model, tasks=tasks, cache_dir=cache_dir))


# ---- run / resume (iterdeploy.loop) --------------------------------------------------------

import pathlib  # noqa: E402  (qualified: other sections import their own names)
import typing  # noqa: E402


@app.command()
def run(
    preset: typing.Annotated[
        str, typer.Option(help="Preset name (configs/*.toml) or a TOML path.")
    ] = "quickstart",
    set_: typing.Annotated[
        list[str] | None, typer.Option("--set", help="Override a key: section.key=value.")
    ] = None,
    resume: typing.Annotated[
        pathlib.Path | None, typer.Option(help="Continue this killed run folder instead.")
    ] = None,
    out: typing.Annotated[
        pathlib.Path | None, typer.Option(help="Run folder (default runs/<run_id>).")
    ] = None,
    ray_address: typing.Annotated[
        str | None, typer.Option(help="Run on this Ray cluster ('auto', HOST:6379).")
    ] = None,
) -> None:
    """Run the loop: deploy, validate, curate and fine-tune the base, generation by generation."""
    from iterdeploy.config import load_config
    from iterdeploy.errors import ConfigError
    from iterdeploy.loop.orchestrator import resume_run, start_run

    _log_to_stderr()
    ray = [] if ray_address is None else ["loop.executor=ray", f"loop.ray_address={ray_address}"]
    if resume is not None and ray:
        raise ConfigError("--ray-address is part of a run's stored config: drop it with --resume")
    if resume is not None:
        _print_run(resume_run(resume))
    else:
        _print_run(start_run(load_config(preset, [*(set_ or []), *ray]), out))


@app.command(name="resume")
def resume_command(
    run_dir: typing.Annotated[pathlib.Path, typer.Argument(help="The run folder.")],
) -> None:
    """Continue a killed run where it stopped (same as `run --resume RUN`)."""
    from iterdeploy.loop.orchestrator import resume_run

    _log_to_stderr()
    _print_run(resume_run(run_dir))


def _print_run(folder: pathlib.Path) -> None:
    from iterdeploy.analysis.verdict import folder_verdict
    from iterdeploy.loop.orchestrator import read_summaries
    from iterdeploy.loop.stages import format_table

    typer.echo(format_table(read_summaries(folder)))
    typer.echo(folder_verdict(str(folder)).text())
    typer.echo(f"run folder: {folder}")


def _log_to_stderr() -> None:
    """Log INFO lines to stderr; transformers' per-load progress bars would drown them."""
    import logging

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")


# ---- report / audit / lineage / promote / rollback / theory (iterdeploy.analysis) ----------

from typing import Annotated  # noqa: E402  (each section imports what it uses)

RunDir = Annotated[str, typer.Argument(help="A run folder (holds store.sqlite).", metavar="RUN")]
RunIndex = Annotated[int, typer.Option("--run", help="Which run (repetition) of the folder.")]
MaxDrop = Annotated[float, typer.Option(help="Gate: allowed drop of the solve rate (fraction).")]
MaxGroupDrop = Annotated[
    float, typer.Option(help="Gate: allowed drop of any domain/difficulty group (fraction).")
]
GateSplit = Annotated[str, typer.Option(help="Gate: tasks to measure, heldout or pool.")]


@app.command()
def report(
    runs: Annotated[list[str], typer.Argument(help="Run folders (several: policies compared).")],
    out: Annotated[str, typer.Option(help="Folder for report.html, PNGs and tables/.")],
) -> None:
    """Write report.html (self-contained), PNG plots and CSV/JSON tables for run folders."""
    from iterdeploy.analysis.report import write_report

    written = write_report(runs, out)
    typer.echo(written.summary())
    typer.echo(f"\n{written.html} ({len(written.figures)} figures, {len(written.tables)} files)")


@app.command()
def audit(run_dir: RunDir) -> None:
    """Print the reward audit: what validation and curation favoured, and blind spots."""
    from iterdeploy.analysis.audit import audit_run
    from iterdeploy.analysis.metrics import format_table

    typer.echo("\n\n".join(format_table(t) for t in audit_run(run_dir)))


@app.command()
def lineage(
    run_dir: RunDir,
    trace_id: Annotated[str, typer.Argument(help="RUN/GENERATION/TASK_ID/SAMPLE")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show where a trace came from (task, prompt, model, validator) and where it went."""
    from iterdeploy.analysis.lineage import format_lineage, trace_lineage

    found = trace_lineage(run_dir, trace_id)
    typer.echo(found.to_json() if as_json else format_lineage(found))


@app.command()
def export(
    run_dir: RunDir,
    generation: Annotated[
        int, typer.Argument(help="The generation the set trained.", metavar="GEN")
    ],
    out: Annotated[
        str | None, typer.Option(help="Folder to write (default RUN/exports/r<run>-g<GEN>).")
    ] = None,
    run: RunIndex = 0,
) -> None:
    """Export the curated set that trained GEN as a Hugging Face dataset with a dataset card."""
    from iterdeploy.analysis.export import export_dataset

    done = export_dataset(run_dir, generation, out, run=run)
    typer.echo(f"{done.size} examples (sha256 {done.digest}), dataset card {done.card}")
    typer.echo(f"export folder: {done.folder}")


@app.command()
def promote(
    run_dir: RunDir,
    generation: Annotated[int, typer.Argument(help="The generation to deploy.", metavar="GEN")],
    run: RunIndex = 0,
    reason: Annotated[str, typer.Option(help="Why; stored with the decision.")] = "",
    force: Annotated[bool, typer.Option(help="Deploy even if the gate fails.")] = False,
    split: GateSplit = "heldout",
    max_drop: MaxDrop = 0.0,
    max_group_drop: MaxGroupDrop = 0.1,
) -> None:
    """Deploy GEN if it passes the release gate against the deployed one."""
    from iterdeploy.analysis.governance import GateConfig
    from iterdeploy.analysis.governance import promote as promote_generation

    gate = GateConfig(split=split, max_drop=max_drop, max_group_drop=max_group_drop)
    decision = promote_generation(run_dir, run, generation, gate, reason=reason, force=force)
    typer.echo(f"deployed generation {generation}; gate: {decision.summary()}")


@app.command()
def rollback(
    run_dir: RunDir,
    run: RunIndex = 0,
    to: Annotated[int | None, typer.Option(help="Generation to return to.")] = None,
    gated: Annotated[bool, typer.Option(help="Return to the gate's last release.")] = False,
    reason: Annotated[str, typer.Option(help="Why; stored with the decision.")] = "",
    split: GateSplit = "heldout",
    max_drop: MaxDrop = 0.0,
    max_group_drop: MaxGroupDrop = 0.1,
) -> None:
    """Deploy an earlier generation again (default: the one deployed before); deletes nothing."""
    from iterdeploy.analysis.governance import GateConfig
    from iterdeploy.analysis.governance import rollback as rollback_to

    gate = GateConfig(split=split, max_drop=max_drop, max_group_drop=max_group_drop)
    row = rollback_to(run_dir, run, to=to, reason=reason, config=gate if gated else None)
    typer.echo(f"run {run}: deployed generation {row.generation} ({row.reason})")


@app.command()
def theory(
    seed: Annotated[int, typer.Option(help="Seed of the toy policies and the samples.")] = 0,
    samples: Annotated[int, typer.Option(help="Monte Carlo draws per estimate.")] = 200_000,
    lm: Annotated[bool, typer.Option(help="Also check on a tiny random Qwen3 model.")] = True,
) -> int:
    """Check numerically that SFT on valid traces is REINFORCE (propositions 1 and 2)."""
    from iterdeploy.registry import load_object

    # Through load_object: without torch the error names `pip install 'iterdeploy[hf]'`.
    run_checks = load_object("iterdeploy.analysis.theory:run_checks", "iterdeploy theory")
    from iterdeploy.analysis.theory import format_checks

    checks = run_checks(seed=seed, samples=samples, lm=lm)
    typer.echo(format_checks(checks))
    return 0 if all(c.passed for c in checks) else 1


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on `argv` (default: sys.argv[1:]) and return the exit code."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="iterdeploy")
    except IterdeployError as exc:
        typer.echo(f"Error: {exc}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        return 1
    except typer.TyperException as exc:  # usage errors: bad option, missing argument, ...
        exc.show(file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0
