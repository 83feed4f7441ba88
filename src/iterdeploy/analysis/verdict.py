"""The finding of one or more run folders in a few lines: the report's top box and the end of
`iterdeploy run`.

Per group (policy, or seed): pool and held-out change from the base model to the last
generation, in tasks and in distinct problems, with the spread over runs; the release gate's
verdict on each generation, flagging a deployed generation that failed it; and the settings
that produced the numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from iterdeploy.analysis.data import RunData, load_run, open_store
from iterdeploy.analysis.metrics import SPLITS, Group, group_runs
from iterdeploy.loop.gate import GateConfig, deployed, gate_chain, stored_gate

SPLIT_NAMES = {"pool": "pool", "heldout": "held-out"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The finding: plain lines, the subset to flag, and the settings of each folder."""

    lines: tuple[str, ...]
    flags: tuple[str, ...]  # a deployed generation failed the gate: shown first and marked
    settings: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (run id, (name, value)...)

    def text(self) -> str:
        """Return the verdict as text lines for a terminal."""
        out = ["Verdict"]
        out += [f"! {flag}" for flag in self.flags]
        out += list(self.lines)
        for run_id, pairs in self.settings:
            out.append(f"settings of {run_id}:")
            out += [f"  {name:<17}{value}" for name, value in pairs]
        return "\n".join(out)


def folder_verdict(folder: str) -> Verdict:
    """Return the verdict of one run folder, gated by the run's own [gate] thresholds."""
    data = load_run(folder)
    return verdict([data], group_runs([data]))


def verdict(
    datas: Sequence[RunData], groups: Sequence[Group], gate: GateConfig | None = None
) -> Verdict:
    """Return the verdict of the groups; `gate` None uses each folder's configured [gate]."""
    lines, flags = [], []
    for g in groups:
        last = g.generations[-1]
        runs = f"{g.k} run{'s' if g.k > 1 else ''}"
        lines.append(f"{g.policy} ({runs}), base model -> generation {last}:")
        for split in SPLITS:
            if g.tasks(split):
                lines.append("  " + _change_line(g, split, last))
    for data in datas:
        config = gate or folder_gate(data)
        lines.append(
            f"release gate of {data.run_id} on {SPLIT_NAMES[config.split]} tasks (max drop "
            f"{config.max_drop:g}, max group drop {config.max_group_drop:g}):"
        )
        with open_store(data.folder) as store:
            for run in data.runs:
                line, flag = _gate_line(store, data, run, config)
                lines.append("  " + line)
                if flag:
                    flags.append(flag)
    settings = tuple((d.run_id, folder_settings(d)) for d in datas)
    return Verdict(tuple(lines), tuple(flags), settings)


def folder_gate(data: RunData) -> GateConfig:
    """Return the run's [gate] config (defaults if absent), on pool tasks if it has no
    held-out split."""
    config = stored_gate(data.folder)
    if config.split == "heldout" and not data.split_tasks("heldout"):
        return dataclasses.replace(config, split="pool")
    return config


def run_config(data: RunData) -> dict[str, Any]:
    """Return the folder's config.toml as a dict ({} when it has none)."""
    from iterdeploy.config import read_toml

    path = data.folder / "config.toml"
    return read_toml(path) if path.is_file() else {}


def folder_settings(data: RunData) -> tuple[tuple[str, str], ...]:
    """Return the settings behind the numbers: model, sampling, training, pool, curation."""
    from iterdeploy.config import RunConfig, from_dict

    c = from_dict(RunConfig, run_config(data))
    levels = "; ".join(
        f"{name} {', '.join(map(str, c.pool.levels_of(name))) or 'all'}" for name in c.pool.domains
    )
    return (
        ("model", f"{c.model.base} ({c.model.backend}, template {c.model.template})"),
        ("samples per task", f"{c.generation.n} (held-out {c.loop.heldout_samples})"),
        ("temperature", f"{c.generation.temperature:g}, max {c.generation.max_tokens} tokens"),
        ("training", f"{c.training.method}, learning rate {c.training.learning_rate:g}, "
                     f"{c.training.epochs:g} epochs, batch {c.training.batch_size}"),
        ("pool", f"{', '.join(c.pool.domains)}: {c.pool.size} tasks per domain, "
                 f"{c.pool.heldout:.0%} held out, levels: {levels}; seed {c.pool.seed}"),
        ("curation", f"{data.policy}"),
        ("loop", f"{c.loop.generations} generations x {c.loop.runs} runs, seed {c.loop.seed}, "
                 f"deploy {c.loop.deploy}"),
    )  # fmt: skip


def _change_line(g: Group, split: str, last: int) -> str:
    problem_of = {t.task_id: t.problem_key for t in g.tasks(split)}
    parts = []
    for measure, key in (("tasks", None), ("distinct problems", problem_of)):
        total = len(problem_of) if key is None else len(set(problem_of.values()))
        base = [_count(s, key) for s in g.solved(0, split)]
        final = [_count(s, key) for s in g.solved(last, split)]
        text = f"{fmean(base):.1f} -> {fmean(final):.1f} of {total} {measure}"
        text += f" ({_pct(fmean(base), fmean(final))}"
        if g.k > 1:
            per_run = [_change(b, f) for b, f in zip(base, final, strict=True)]
            text += f"; runs {_spread(per_run)}"
        parts.append(text + ")")
    return f"{SPLIT_NAMES[split]}: " + "; ".join(parts)


def _count(solved: frozenset[str], problem_of: dict[str, str] | None) -> int:
    """Return how many tasks (problem_of None) or distinct problems `solved` holds."""
    return len(solved) if problem_of is None else len({problem_of[t] for t in solved})


def _gate_line(store: Any, data: RunData, run: int, config: GateConfig) -> tuple[str, str]:
    chain = gate_chain(store, run, config)
    now = deployed(store, run)
    where = f"{data.run_id} run {run}"
    steps = ", ".join(f"g{d.candidate} {'pass' if d.passed else 'FAIL'}" for d in chain)
    line = f"run {run}: {steps or 'no generation after the base'}; deployed "
    line += "-" if now is None else f"g{now}"
    failed = next((d for d in chain if d.candidate == now and not d.passed), None)
    if failed is None:
        return line, ""
    flag = (
        f"{where}: generation {now} is deployed but failed the release gate "
        f"({'; '.join(failed.reasons)})"
    )
    return line + " (FAILED the gate)", flag


def _change(base: float, final: float) -> float | None:
    return None if base == 0 else 100 * (final - base) / base


def _pct(base: float, final: float) -> str:
    change = _change(base, final)
    if change is None:
        return "from 0" if final else "none solved"
    return f"{change:+.0f}%"


def _spread(changes: Sequence[float | None]) -> str:
    known = [c for c in changes if c is not None]
    if not known:
        return "all from 0"
    text = f"{min(known):+.0f}% to {max(known):+.0f}%"
    missing = len(changes) - len(known)
    return text + (f", {missing} from 0" if missing else "")
