"""The report's figures, drawn with matplotlib's object API (no pyplot state, Agg canvas).

Each function takes the policy groups and a PNG path and returns the path. Conventions, so
every figure reads the same way: one colour per group (policy, or seed when several folders
share a policy), solid lines for pool tasks and dashed for held-out ones, a band for the
min-max over runs, count axes from 0 with integer ticks, and distributions of small integers
(plan lengths, tokens) as median with interquartile range, since boxes of a few distinct
values collapse.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from statistics import fmean, median, quantiles
from typing import TYPE_CHECKING

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from iterdeploy.analysis.metrics import SPLITS, Group, paper_table, shortest_valid

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DPI = 100
SPLIT_STYLE = {"pool": ("-", "o"), "heldout": ("--", "s")}  # linestyle, marker
SPLIT_LABEL = {"pool": "pool", "heldout": "held-out"}


def plot_solved(groups: Sequence[Group], path: Path) -> Path:
    """Plot solve rates (%) per generation, pool and held-out on one axis, of tasks and of
    distinct problems; with several domains, one column per domain (tasks above problems)."""
    domains = _domains(groups)
    # One domain: tasks and problems side by side; several: a row each, a column per domain.
    rows, cols = (1, 2) if len(domains) == 1 else (2, len(domains))
    fig = _figure(cols, width=5.2, rows=rows, height=3.4)
    for col, domain in enumerate(domains):
        for row, measure in enumerate(("tasks", "problems")):
            ax = fig.axes[row * cols + col] if rows == 2 else fig.axes[row]
            for i, g in enumerate(groups):
                for split in SPLITS:
                    _solve_rate_line(ax, g, split, domain, measure, f"C{i}")
            where = f", {domain}" if len(domains) > 1 else ""
            _style(ax, f"{measure} solved{where}", f"{measure} solved (%)")
            ax.set_ylim(0, 100)
    _legend(fig, groups, SPLITS)
    return _save(fig, path)


def _solve_rate_line(ax: Axes, g: Group, split: str, domain: str, measure: str, color: str) -> None:
    tasks = [t for t in g.tasks(split) if t.domain == domain]
    if not tasks:
        return
    ids = {t.task_id for t in tasks}
    key = {t.task_id: (t.problem_key if measure == "problems" else t.task_id) for t in tasks}
    total = len(set(key.values()))
    rates = [
        [100 * len({key[t] for t in solved & ids}) / total for solved in g.solved(gen, split)]
        for gen in g.generations
    ]
    style, marker = SPLIT_STYLE[split]
    ax.plot(g.generations, [fmean(r) for r in rates], ls=style, marker=marker, color=color)
    if g.k > 1:
        low, high = [min(r) for r in rates], [max(r) for r in rates]
        ax.fill_between(g.generations, low, high, color=color, alpha=0.15, lw=0)


def plot_curation(groups: Sequence[Group], path: Path) -> Path:
    """Plot the curated-set size each generation trained on, and the valid-trace rate (%)."""
    fig = _figure(2, width=5.2)
    sizes_ax, valid_ax = fig.axes
    for i, g in enumerate(groups):
        color = f"C{i}"
        gens = [gen for gen in g.generations if gen > 0]
        sizes = [[d.size for d, _ in _sets(g, gen)] for gen in gens]
        kept = [(gen, s) for gen, s in zip(gens, sizes, strict=True) if s]
        if kept:
            xs = [gen for gen, _ in kept]
            sizes_ax.plot(xs, [fmean(s) for _, s in kept], marker="o", color=color)
            if g.k > 1:
                sizes_ax.fill_between(xs, [min(s) for _, s in kept], [max(s) for _, s in kept],
                                      color=color, alpha=0.15, lw=0)  # fmt: skip
        for split in SPLITS:
            rates = [_valid_rates(g, gen, split) for gen in g.generations]
            if not any(rates):
                continue
            style, marker = SPLIT_STYLE[split]
            valid_ax.plot(g.generations, [fmean(r) if r else 0.0 for r in rates], ls=style,
                          marker=marker, color=color)  # fmt: skip
    _style(sizes_ax, "curated-set size (examples the model trained on)", "examples")
    _count_axis(sizes_ax)
    sizes_ax.set_xlim(left=0.5)
    _style(valid_ax, "valid traces (% of all traces sampled)", "valid traces (%)")
    valid_ax.set_ylim(0, 100)
    _legend(fig, groups, SPLITS)
    return _save(fig, path)


def _sets(g: Group, generation: int):
    return [(d, run) for data, run in g.members if (d := data.dataset(run, generation))]


def _valid_rates(g: Group, generation: int, split: str) -> list[float]:
    rates = []
    for data, run in g.members:
        traces = data.traces_of(run, generation, split)
        if traces:
            rates.append(100 * sum(t.valid for t in traces) / len(traces))
    return rates


def plot_plan_lengths(groups: Sequence[Group], path: Path) -> Path:
    """Plot the median and IQR of solved plan lengths per generation (each solved pool task
    by its shortest valid plan) next to the reference lengths of the same tasks."""
    fig = _figure(len(groups), width=5.2)
    for ax, g in zip(fig.axes, groups, strict=True):
        model: dict[int, list[int]] = defaultdict(list)
        reference: dict[int, list[int]] = defaultdict(list)
        for gen in g.generations:
            for data, run in g.members:
                for task_id, n in shortest_valid(data, run, gen, "pool").items():
                    model[gen].append(n)
                    reference[gen].append(data.tasks[task_id].reference_length or 0)
        _median_iqr(ax, model, -0.08, "tab:blue", "o")
        _median_iqr(ax, reference, 0.08, "dimgray", "D")
        _style(ax, f"solved plan length, median and IQR, pool ({g.policy})", "plan length (steps)")
        _count_axis(ax)
        ax.set_xlim(min(g.generations) - 0.3, max(g.generations) + 0.3)
    _below(
        fig,
        [_handle("tab:blue", "o"), _handle("dimgray", "D")],
        ["model: shortest valid plan per solved task", "reference plan of the same tasks"],
    )
    return _save(fig, path)


def plot_length_ratio(groups: Sequence[Group], path: Path) -> Path:
    """Plot plan length / reference for tasks solved in at least two generations of a run."""
    fig = _figure(len(groups), width=5.2)
    for ax, g in zip(fig.axes, groups, strict=True):
        per_gen: dict[int, list[float]] = defaultdict(list)
        lines = []
        for data, run in g.members:
            series: dict[str, dict[int, float]] = defaultdict(dict)
            for gen in g.generations:
                for task_id, n in shortest_valid(data, run, gen, "pool").items():
                    ref = data.tasks[task_id].reference_length
                    if ref:
                        series[task_id][gen] = n / ref
            for points in series.values():
                if len(points) < 2:
                    continue
                xs = sorted(points)
                lines.append([(x, points[x]) for x in xs])
                for x in xs:
                    per_gen[x].append(points[x])
        # One collection for all tasks: thousands of separate lines would dominate draw time.
        ax.add_collection(LineCollection(lines, colors="tab:gray", alpha=0.15, linewidths=0.8))
        if per_gen:
            xs = sorted(per_gen)
            ax.plot(xs, [median(per_gen[x]) for x in xs], color="tab:red", marker="o", lw=2)
        ax.axhline(1.0, color="black", lw=0.8, ls="--")
        _style(ax, f"plan length / reference, tasks solved in 2+ generations ({g.policy})",
               "length / reference")  # fmt: skip
        ax.set_xlim(min(g.generations) - 0.2, max(g.generations) + 0.2)
        ax.set_ylim(bottom=0)
        ax.autoscale_view(scalex=False)
    _below(fig, [Line2D([], [], color="tab:gray"), _handle("tab:red", "o"),
                 Line2D([], [], color="black", ls="--", lw=0.8)],
           ["one task", "median", "as long as the reference"])  # fmt: skip
    return _save(fig, path)


def plot_tokens(groups: Sequence[Group], path: Path) -> Path:
    """Plot reasoning tokens per pool trace: median with IQR band, and the mean (dotted)."""
    fig = _figure(1, width=6.0)
    ax = fig.axes[0]
    for i, g in enumerate(groups):
        color = f"C{i}"
        tokens = {
            gen: [t.reasoning_tokens for d, run in g.members for t in d.traces_of(run, gen, "pool")]
            for gen in g.generations
        }
        gens = [gen for gen in g.generations if tokens[gen]]
        stats = [_quartiles(tokens[gen]) for gen in gens]
        ax.plot(gens, [m for _, m, _ in stats], marker="o", color=color)
        ax.fill_between(gens, [q1 for q1, _, _ in stats], [q3 for _, _, q3 in stats],
                        color=color, alpha=0.15, lw=0)  # fmt: skip
        ax.plot(gens, [fmean(tokens[gen]) for gen in gens], ls=":", color=color)
    _style(ax, "reasoning tokens per trace (pool)", "tokens")
    _count_axis(ax)
    handles = [_handle(f"C{i}", "o") for i in range(len(groups))]
    handles += [Line2D([], [], color="black"), Line2D([], [], color="black", ls=":")]
    _below(fig, handles, [g.policy for g in groups] + ["median (band: IQR)", "mean"])
    return _save(fig, path)


def plot_losses(groups: Sequence[Group], path: Path) -> Path:
    """Plot the training loss of every fine-tuned model: one line per (run, generation)."""
    fig = _figure(len(groups), width=5.2)
    for ax, g in zip(fig.axes, groups, strict=True):
        models = [m for data, run in g.members for m in data.models if m.run == run and m.losses]
        for m in models:
            steps, losses = zip(*m.losses, strict=True)
            (line,) = ax.plot(steps, losses, marker=".", label=f"run {m.run} gen {m.generation}")
            if m.eval_losses:
                steps, losses = zip(*m.eval_losses, strict=True)
                ax.plot(steps, losses, ls="--", marker="x", color=line.get_color())
        if models:  # under the axes: a legend inside would hide the points it names
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4,
                      frameon=False)  # fmt: skip
            last = max(m.losses[-1][0] for m in models)
            top = max(v for m in models for _, v in m.losses + m.eval_losses)
            ax.set_xlim(0, last + max(1, last * 0.05))
            ax.set_ylim(0, top * 1.1)
        else:
            ax.text(0.5, 0.5, "no fine-tuned model yet", ha="center", transform=ax.transAxes)
        _style(ax, f"SFT training loss ({g.policy})", "cross-entropy per trained token")
        ax.set_xlabel("optimizer step")
    return _save(fig, path)


def plot_domains(groups: Sequence[Group], path: Path) -> Path:
    """Plot the paper table's trends per domain: a column per domain, the mean shortest solved
    plan length above the mean reasoning tokens of valid traces, one line per group."""
    domains = _domains(groups)
    fig = _figure(len(domains), width=4.2, rows=2, height=3.2)
    records = paper_table(groups).records()
    for col, domain in enumerate(domains):
        for row, (column, label) in enumerate(
            (("plan length", "plan length (steps)"), ("reasoning tokens", "tokens"))
        ):
            ax = fig.axes[row * len(domains) + col]
            for i, g in enumerate(groups):
                points = [
                    (r["generation"], r[column])
                    for r in records
                    if r["policy"] == g.policy and r["domain"] == domain and r[column] is not None
                ]
                if points:
                    ax.plot(*zip(*points, strict=True), marker="o", color=f"C{i}")
            _style(ax, f"{domain}: {column}", label)
            _count_axis(ax)
    _below(fig, [_handle(f"C{i}", "o") for i in range(len(groups))], [g.policy for g in groups])
    return _save(fig, path)


# File stem -> plot function: the report draws each into <out>/<stem>.png, in this order.
PLOTS = {
    "solved": plot_solved,
    "curation": plot_curation,
    "plan_lengths": plot_plan_lengths,
    "length_ratio": plot_length_ratio,
    "reasoning_tokens": plot_tokens,
    "domains": plot_domains,
    "training_loss": plot_losses,
}


def _domains(groups: Sequence[Group]) -> list[str]:
    return sorted({t.domain for g in groups for s in SPLITS for t in g.tasks(s)}) or ["-"]


def _median_iqr(ax: Axes, values: dict[int, list[int]], shift: float, color: str, marker: str):
    gens = sorted(gen for gen, v in values.items() if v)
    if not gens:
        return
    stats = [_quartiles(values[gen]) for gen in gens]
    mids = [m for _, m, _ in stats]
    err = [[m - q1 for q1, m, _ in stats], [q3 - m for _, m, q3 in stats]]
    ax.errorbar([gen + shift for gen in gens], mids, yerr=err, color=color, marker=marker,
                capsize=4, lw=1.5)  # fmt: skip


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """Return (q1, median, q3), inclusive quartiles.

    >>> _quartiles([1, 2, 3, 4, 5])
    (2.0, 3, 4.0)
    """
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, _, q3 = quantiles(values, n=4, method="inclusive")
    return q1, median(values), q3


def _handle(color: str, marker: str) -> Line2D:
    return Line2D([], [], color=color, marker=marker)


def _legend(fig: Figure, groups: Sequence[Group], splits: Sequence[str]) -> None:
    """One legend under the panels: a colour per group, a line style per split."""
    handles = [_handle(f"C{i}", "o") for i in range(len(groups))]
    labels = [f"{g.policy} ({g.k} run{'s' if g.k > 1 else ''})" for g in groups]
    for split in splits:
        style, marker = SPLIT_STYLE[split]
        handles.append(Line2D([], [], color="black", ls=style, marker=marker))
        labels.append(SPLIT_LABEL[split] + " tasks")
    _below(fig, handles, labels)


def _below(fig: Figure, handles: list, labels: list[str]) -> None:
    """Put the figure's legend under its panels, where it hides no data."""
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(handles), 6),
               fontsize=8, frameon=False)  # fmt: skip


def _figure(panels: int, width: float, rows: int = 1, height: float = 3.6) -> Figure:
    cols = max(1, panels)
    fig = Figure(figsize=(width * cols, height * rows + 0.4), dpi=DPI, layout="constrained")
    fig.subplots(rows, cols, squeeze=False)
    return fig


def _style(ax: Axes, title: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("generation")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def _count_axis(ax: Axes, headroom: float = 1.1) -> None:
    """Start a count axis at 0 with integer ticks, with a little room above the data."""
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    top = ax.get_ylim()[1]
    ax.set_ylim(0, max(1, top * headroom))


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path
