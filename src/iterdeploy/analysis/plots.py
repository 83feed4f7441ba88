"""The report's figures, drawn with matplotlib's object API (no pyplot state, Agg canvas).

Each function takes the policy groups and a PNG path and returns the path: solved tasks per
generation, solved plan lengths next to the reference lengths (the paper's "longer plans"
evidence), the plan/reference ratio of tasks solved in several generations, mean reasoning
tokens per generation, and the training loss of each generation's fine-tune.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from statistics import fmean, median
from typing import TYPE_CHECKING

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from iterdeploy.analysis.metrics import SPLITS, Group, shortest_valid

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DPI = 100


def plot_solved(groups: Sequence[Group], path: Path) -> Path:
    """Plot mean solved tasks per generation with the min-max band, pool and held-out."""
    fig = _figure(len(SPLITS), width=5.0)
    for ax, split in zip(fig.axes, SPLITS, strict=True):
        for g in groups:
            gens = g.generations
            counts = [[len(s) for s in g.solved(gen, split)] for gen in gens]
            ax.plot(gens, [fmean(c) for c in counts], marker="o", label=f"{g.policy} (k={g.k})")
            ax.fill_between(gens, [min(c) for c in counts], [max(c) for c in counts], alpha=0.2)
        total = len(groups[0].tasks(split))
        _style(ax, f"{split} tasks solved (of {total})", "tasks solved")
        ax.legend(fontsize=8, loc="upper left")
    return _save(fig, path)


def plot_plan_lengths(groups: Sequence[Group], path: Path) -> Path:
    """Plot solved plan lengths per generation next to the reference lengths of those tasks."""
    fig = _figure(len(groups), width=5.5)
    for ax, g in zip(fig.axes, groups, strict=True):
        model, reference, positions = [], [], []
        for gen in g.generations:
            lengths, refs = [], []
            for data, run in g.members:
                for task_id, n in shortest_valid(data, run, gen, "pool").items():
                    lengths.append(n)
                    refs.append(data.tasks[task_id].reference_length or 0)
            model.append(lengths or [0])
            reference.append(refs or [0])
            positions.append(gen)
        left = ax.boxplot(
            model,
            positions=[p - 0.18 for p in positions],
            widths=0.3,
            patch_artist=True,
            manage_ticks=False,
        )
        right = ax.boxplot(
            reference,
            positions=[p + 0.18 for p in positions],
            widths=0.3,
            patch_artist=True,
            manage_ticks=False,
        )
        for box in left["boxes"]:
            box.set_facecolor("tab:blue")
        for box in right["boxes"]:
            box.set_facecolor("lightgray")
        ax.set_xticks(positions)
        ax.legend(
            [left["boxes"][0], right["boxes"][0]],
            ["model (shortest valid)", "reference"],
            fontsize=8,
            loc="upper left",
        )
        _style(ax, f"solved plan lengths, pool ({g.policy})", "plan length (steps)")
    return _save(fig, path)


def plot_length_ratio(groups: Sequence[Group], path: Path) -> Path:
    """Plot plan length / reference for tasks solved in at least two generations of a run."""
    fig = _figure(len(groups), width=5.5)
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
            ax.plot(
                xs,
                [median(per_gen[x]) for x in xs],
                color="tab:red",
                marker="o",
                lw=2,
                label="median",
            )
            ax.legend(fontsize=8, loc="upper left")
        ax.axhline(1.0, color="black", lw=0.8, ls="--")
        _style(ax, f"plan length / reference, tasks solved in 2+ generations ({g.policy})", "ratio")
    return _save(fig, path)


def plot_tokens(groups: Sequence[Group], path: Path) -> Path:
    """Plot mean reasoning tokens per generation (over all pool traces), min-max over runs."""
    fig = _figure(1, width=6.0)
    ax = fig.axes[0]
    for g in groups:
        gens = g.generations
        per_run = [
            [
                fmean(tokens)
                if (tokens := [t.reasoning_tokens for t in data.traces_of(run, gen, "pool")])
                else 0.0
                for data, run in g.members
            ]
            for gen in gens
        ]
        ax.plot(gens, [fmean(v) for v in per_run], marker="o", label=g.policy)
        ax.fill_between(gens, [min(v) for v in per_run], [max(v) for v in per_run], alpha=0.2)
    _style(ax, "mean reasoning tokens per trace (pool)", "tokens")
    ax.legend(fontsize=8, loc="upper left")
    return _save(fig, path)


def plot_losses(groups: Sequence[Group], path: Path) -> Path:
    """Plot the training loss of every fine-tuned model: one line per (run, generation)."""
    fig = _figure(len(groups), width=5.5)
    for ax, g in zip(fig.axes, groups, strict=True):
        models = [m for data, run in g.members for m in data.models if m.run == run and m.losses]
        for m in models:
            steps, losses = zip(*m.losses, strict=True)
            (line,) = ax.plot(steps, losses, marker=".", label=f"run {m.run} gen {m.generation}")
            if m.eval_losses:
                steps, losses = zip(*m.eval_losses, strict=True)
                ax.plot(steps, losses, ls="--", marker="x", color=line.get_color())
        if models:
            ax.legend(fontsize=7, loc="upper right", ncol=1 + len(models) // 8)
        else:
            ax.text(0.5, 0.5, "no fine-tuned model yet", ha="center", transform=ax.transAxes)
        _style(ax, f"training loss ({g.policy})", "loss")
        ax.set_xlabel("optimizer step")
        ax.set_xlim(left=0)
    return _save(fig, path)


# File stem -> plot function: the report draws each into <out>/<stem>.png.
PLOTS = {
    "solved": plot_solved,
    "plan_lengths": plot_plan_lengths,
    "length_ratio": plot_length_ratio,
    "reasoning_tokens": plot_tokens,
    "training_loss": plot_losses,
}


def _figure(panels: int, width: float) -> Figure:
    fig = Figure(figsize=(width * max(1, panels), 3.6), dpi=DPI, layout="constrained")
    fig.subplots(1, max(1, panels), squeeze=False)
    return fig


def _style(ax: Axes, title: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("generation")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path
