"""The `iterdeploy` commands: thin typer commands over library functions.

Each command loads its inputs, calls one library function and prints a summary. The entry
point, the exit codes and the fast path of `validate` are in `iterdeploy.cli`: importing this
module imports typer (and the pydantic it loads), which alone takes longer than a validation.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from iterdeploy.errors import ConfigError

if TYPE_CHECKING:
    from iterdeploy.config import RunConfig

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


@app.command()
def validate(
    domain: Annotated[
        Path | None, typer.Argument(metavar="DOMAIN", help="Domain PDDL file.")
    ] = None,
    problem: Annotated[
        Path | None, typer.Argument(metavar="PROBLEM", help="Problem PDDL file.")
    ] = None,
    plan: Annotated[
        Path | None, typer.Argument(metavar="PLAN", help="Plan file: one (action args) per line.")
    ] = None,
    batch: Annotated[
        Path | None, typer.Option(help='JSONL of {"domain", "problem", "plan"} paths.')
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON (one line per plan).")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Trace each step.")] = False,
) -> int:
    """Validate plans, VAL-style. Exit 0 if every plan is valid, 1 if not, 2 on unusable input."""
    from iterdeploy.pddl.batch import report_files

    return report_files(
        domain, problem, plan, batch, as_json=json_, verbose=verbose, out=typer.echo
    )


# ---- tasks (iterdeploy.domains) ------------------------------------------------------------


@tasks_app.command("build")
def tasks_build(
    domain: Annotated[str, typer.Option(help="Domain, e.g. blocksworld, rovers, sokoban.")],
    out: Annotated[Path, typer.Option(help="Pool folder to write.")],
    size: Annotated[int, typer.Option(help="Number of tasks.", min=1)] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of problems and split.")] = 0,
    max_level: Annotated[
        int | None, typer.Option(help="Use difficulty levels 0..N only.", min=0)
    ] = None,
    heldout: Annotated[float, typer.Option(help="Held-out fraction per level.")] = 0.2,
    time_limit: Annotated[float, typer.Option(help="lama-first seconds per task.")] = 30.0,
    jobs: Annotated[
        int | None, typer.Option(help="Planner processes (default: cores).", min=1)
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace a different pool in --out.")] = False,
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
    tasks = load_pool(path)
    typer.echo(describe_pool(tasks) + f"\npool folder: {path}")
    if heldout > 0:
        _warn_empty_heldout(tasks, heldout)


def _warn_empty_heldout(tasks: list, heldout: float) -> None:
    """Warn on stderr about difficulty levels that got no held-out task (too few tasks)."""
    per_level: dict[int, list[str]] = {}
    for task in tasks:
        per_level.setdefault(task.difficulty, []).append(task.split)
    empty = sorted(level for level, splits in per_level.items() if "heldout" not in splits)
    for level in empty:
        n = len(per_level[level])
        typer.echo(
            f"Warning: level {level} has {n} tasks and none held out (round({heldout:g} x {n}) "
            "= 0): its held-out solve rate cannot be measured; use a larger --size or --heldout",
            err=True,
        )


@tasks_app.command("show")
def tasks_show(pool: Annotated[Path, typer.Argument(help="A pool folder.")]) -> None:
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

CacheOption = Annotated[
    Path | None,
    typer.Option(help="Cache folder (default: $ITERDEPLOY_CACHE, else ~/.cache/iterdeploy)."),
]


@model_app.command("init")
def model_init(cache_dir: CacheOption = None) -> None:
    """Build the embedded default model, or find it in the cache, and print its folder."""
    import logging

    from iterdeploy.registry import load_object

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    ensure_model = load_object("iterdeploy.embedded.cache:ensure_model", "the embedded model")
    typer.echo(ensure_model(cache_dir))


@model_app.command("info")
def model_info(
    model: Annotated[str | None, typer.Argument(help="Model folder (default: embedded).")] = None,
    tasks: Annotated[int, typer.Option(help="Fresh easy Blocksworld tasks to probe.", min=1)] = 32,
    cache_dir: CacheOption = None,
) -> None:
    """Print a model's build record and its greedy solve rate on fresh easy Blocksworld tasks."""
    from iterdeploy.registry import load_object

    describe = load_object("iterdeploy.embedded.probe:describe", "model info")
    typer.echo(describe(model, tasks=tasks, cache_dir=cache_dir))


# ---- run / resume (iterdeploy.loop) --------------------------------------------------------


@app.command()
def run(
    preset: Annotated[
        str, typer.Option(help="Preset name (configs/*.toml) or a TOML path.")
    ] = "quickstart",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a key: section.key=value.")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue this killed run folder instead.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/<run_id>).")] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="Run on this Ray cluster ('auto', HOST:6379).")
    ] = None,
) -> None:
    """Run the loop: deploy, validate, curate and fine-tune the base, generation by generation.

    Names and parameters are checked before the run folder is made.

    A run that fails before its first stage is removed; a later failure is kept for `resume`.
    """
    from iterdeploy.config import load_config

    ray = [] if ray_address is None else ["loop.executor=ray", f"loop.ray_address={ray_address}"]
    if resume is not None and (ray or set_ or out is not None):
        raise ConfigError(
            "--resume continues a run with its stored config: drop --set, --out and "
            "--ray-address (or start a new run without --resume)"
        )
    if resume is not None:
        return resume_command(resume)
    config = load_config(preset, [*(set_ or []), *ray])
    _log_to_stderr()
    _print_run(_start_or_clean_up(config, out))


def _start_or_clean_up(config: RunConfig, out: Path | None) -> Path:
    """Return the finished run folder; undo what a run that fails before any stage created."""
    import shutil

    from iterdeploy.errors import IterdeployError
    from iterdeploy.loop.orchestrator import new_run_id, start_run
    from iterdeploy.loop.store import Store, reads

    folder = out if out is not None else Path(config.loop.out_dir) / new_run_id()
    existed, store = folder.exists(), folder / Store.FILENAME
    had_run = store.exists()
    try:
        return start_run(config, folder)
    except IterdeployError:
        if had_run or not store.is_file():
            raise
        with Store(store) as opened:
            started = reads.has_stage(opened)
        if not started:
            if existed:  # a folder the user made: remove only the run's files
                for name in ("config.toml", store.name, f"{store.name}-wal", f"{store.name}-shm"):
                    (folder / name).unlink(missing_ok=True)
            else:
                shutil.rmtree(folder)
            typer.echo(f"removed {folder}: the run failed before its first stage", err=True)
        raise


@app.command(name="resume")
def resume_command(
    run_dir: Annotated[Path, typer.Argument(help="The run folder.")],
) -> None:
    """Continue a killed run where it stopped (same as `run --resume RUN`)."""
    from iterdeploy.loop.orchestrator import resume_run

    _log_to_stderr()
    _print_run(resume_run(run_dir))


def _print_run(folder: Path) -> None:
    from iterdeploy.analysis.data import load_run
    from iterdeploy.analysis.metrics import format_paper_table, group_runs, paper_table
    from iterdeploy.analysis.verdict import folder_verdict
    from iterdeploy.loop.orchestrator import read_summaries
    from iterdeploy.loop.stages import format_table

    typer.echo(format_table(read_summaries(folder)))
    groups = group_runs([load_run(folder)])
    typer.echo("\n" + format_paper_table(paper_table(groups)) + "\n")
    typer.echo(folder_verdict(str(folder)).text())
    typer.echo(f"run folder: {folder}")


def _log_to_stderr() -> None:
    """Log INFO lines to stderr; transformers' per-load progress bars would drown them."""
    import importlib.util
    import logging

    if importlib.util.find_spec("transformers") is not None:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")


# ---- report / audit / traces / lineage / promote / rollback / theory (iterdeploy.analysis) --

RunDir = Annotated[str, typer.Argument(help="A run folder (holds store.sqlite).", metavar="RUN")]
RunIndex = Annotated[
    int, typer.Option("--run", help="Which run (repetition) of the folder.", min=0)
]
# Gate thresholds: unset, they are the run's own [gate] (config.toml), like the loop's gate.
MaxDrop = Annotated[
    float | None,
    typer.Option(
        help="Gate: allowed drop of the solve rate (fraction; default: the run's [gate])."
    ),
]
MaxGroupDrop = Annotated[
    float | None,
    typer.Option(
        help="Gate: allowed drop of any domain/difficulty group (fraction; default: the run's "
        "[gate])."
    ),
]
GateSplit = Annotated[
    str | None,
    typer.Option(help="Gate: tasks to measure, heldout or pool (default: the run's [gate])."),
]


@app.command()
def report(
    runs: Annotated[list[str], typer.Argument(help="Run folders (several: policies compared).")],
    out: Annotated[str, typer.Option(help="Folder for report.html, PNGs and tables/.")],
) -> None:
    """Write report.html (self-contained), PNG plots and CSV/JSON tables for run folders."""
    from iterdeploy.analysis.report import write_report

    if Path(out).exists() and not Path(out).is_dir():
        raise ConfigError(f"--out {out} is a file; pass a folder for report.html and its files")
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
def traces(
    run_dir: RunDir,
    run: Annotated[int | None, typer.Option("--run", help="Only this run.", min=0)] = None,
    gen: Annotated[int | None, typer.Option(help="Only this generation.", min=0)] = None,
    task: Annotated[str | None, typer.Option(help="Only tasks matching this id or glob.")] = None,
    split: Annotated[str | None, typer.Option(help="Only this split: pool or heldout.")] = None,
    valid: Annotated[
        bool | None, typer.Option("--valid/--invalid", help="Only valid (invalid) traces.")
    ] = None,
    curated: Annotated[
        bool | None,
        typer.Option("--curated/--not-curated", help="Only traces in (not in) a curated set."),
    ] = None,
) -> None:
    """List trace ids (for `lineage`) with split, verdict, plan length and curated sets."""
    from iterdeploy.analysis.lineage import format_traces, list_traces

    found = list_traces(
        run_dir, run=run, generation=gen, task=task, split=split, valid=valid, curated=curated
    )
    typer.echo(format_traces(found))


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
        int, typer.Argument(help="The generation the set trained.", metavar="GEN", min=0)
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
    generation: Annotated[
        int, typer.Argument(help="The generation to deploy.", metavar="GEN", min=0)
    ],
    run: RunIndex = 0,
    reason: Annotated[str, typer.Option(help="Why; stored with the decision.")] = "",
    force: Annotated[bool, typer.Option(help="Deploy even if the gate fails.")] = False,
    split: GateSplit = None,
    max_drop: MaxDrop = None,
    max_group_drop: MaxGroupDrop = None,
) -> None:
    """Deploy GEN if it passes the release gate against the deployed one (exit 1 if not).

    The gate is the run's own [gate]; --split, --max-drop and --max-group-drop override it.
    """
    from iterdeploy.loop.gate import promote as promote_generation
    from iterdeploy.loop.gate import stored_gate

    gate = stored_gate(run_dir, split=split, max_drop=max_drop, max_group_drop=max_group_drop)
    decision = promote_generation(run_dir, run, generation, gate, reason=reason, force=force)
    if decision is None:
        typer.echo(f"run {run}: generation {generation} is already deployed; nothing written")
    else:
        typer.echo(f"deployed generation {generation}; gate: {decision.summary()}")


@app.command()
def rollback(
    run_dir: RunDir,
    run: RunIndex = 0,
    to: Annotated[int | None, typer.Option(help="Generation to return to.", min=0)] = None,
    gated: Annotated[bool, typer.Option(help="Return to the gate's last release.")] = False,
    force: Annotated[bool, typer.Option(help="Return to --to even if the gate fails it.")] = False,
    reason: Annotated[str, typer.Option(help="Why; stored with the decision.")] = "",
    split: GateSplit = None,
    max_drop: MaxDrop = None,
    max_group_drop: MaxGroupDrop = None,
) -> None:
    """Deploy an earlier generation again (default: the one deployed before); deletes nothing.

    --to G needs a generation the gate released (0, or one that passed), or --force. The gate
    is the run's own [gate]; --split, --max-drop and --max-group-drop override it.
    """
    from iterdeploy.loop.gate import rollback as rollback_to
    from iterdeploy.loop.gate import stored_gate

    gate = stored_gate(run_dir, split=split, max_drop=max_drop, max_group_drop=max_group_drop)
    row = rollback_to(run_dir, run, to=to, reason=reason, config=gate, gated=gated, force=force)
    if row is None:
        typer.echo(f"run {run}: that generation is already deployed; nothing written")
    else:
        typer.echo(f"run {run}: deployed generation {row.generation} ({row.reason})")


@app.command()
def theory(
    seed: Annotated[int, typer.Option(help="Seed of the toy policies and the samples.")] = 0,
    samples: Annotated[
        int, typer.Option(help="Monte Carlo draws per estimate (at least 10).", min=10)
    ] = 200_000,
    lm: Annotated[bool, typer.Option(help="Also check on a tiny random Qwen3 model.")] = True,
) -> int:
    """Check numerically that SFT on valid traces is REINFORCE (propositions 1 and 2).

    Exit 0 when every check holds, 1 when one fails.
    """
    from iterdeploy.registry import load_object

    # Through load_object: without torch the error names `pip install 'iterdeploy[hf]'`.
    run_checks = load_object("iterdeploy.analysis.theory:run_checks", "iterdeploy theory")
    from iterdeploy.analysis.theory import format_checks

    checks = run_checks(seed=seed, samples=samples, lm=lm)
    typer.echo(format_checks(checks))
    return 0 if all(c.passed for c in checks) else 1


def run_app(args: list[str]) -> int:
    """Run the typer app on `args` and return its exit code (usage errors: 2)."""
    try:
        result = app(args=args, standalone_mode=False, prog_name="iterdeploy")
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        return 1
    except typer.TyperException as exc:  # usage errors: bad option, missing argument, ...
        exc.show(file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0
