"""The paper's tables from one or more run folders, plus the regression monitor.

Runs are grouped by curation policy: runs of one policy are the paper's repetitions (mean and
min-max over them, unanimous@k with k = the number of runs); two policies side by side are the
curation ablation. Held-out tasks are always counted apart from pool tasks. Every table is a
`Table` so the report writes it as CSV, JSON and HTML alike.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from iterdeploy.analysis.data import RunData, TaskRecord
from iterdeploy.analysis.stats import mean as _mean
from iterdeploy.analysis.stats import median2 as _median
from iterdeploy.analysis.stats import rate as _rate
from iterdeploy.analysis.stats import round2 as _r

log = logging.getLogger(__name__)

SPLITS = ("pool", "heldout")


@dataclass(frozen=True, slots=True)
class Table:
    """A titled table: `rows` hold plain values in the order of `columns`."""

    name: str  # file stem: the report writes <name>.csv and <name>.json
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str = ""

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def select(self, name: str, title: str, columns: Sequence[str]) -> Table:
        """Return a table of some of these columns, in the given order."""
        index = [self.columns.index(c) for c in columns]
        rows = tuple(tuple(row[i] for i in index) for row in self.rows)
        return Table(name, title, tuple(columns), rows, self.note)


@dataclass(frozen=True, slots=True)
class Group:
    """The runs of one curation policy, across the given run folders."""

    policy: str
    members: tuple[tuple[RunData, int], ...]  # (folder data, run index)

    @property
    def k(self) -> int:
        return len(self.members)

    @property
    def generations(self) -> list[int]:
        """Return the generations every run of the group has evaluated."""
        last = min(max(data.generations[run]) for data, run in self.members)
        return list(range(last + 1))

    def tasks(self, split: str) -> list[TaskRecord]:
        return self.members[0][0].split_tasks(split)

    def solved(self, generation: int, split: str) -> list[frozenset[str]]:
        """Return each run's solved tasks of `split` at `generation`."""
        return [data.solved(run, generation, split) for data, run in self.members]


def group_runs(datas: Sequence[RunData]) -> list[Group]:
    """Return the runs of `datas` grouped by policy label, in order of first appearance."""
    members: dict[str, list[tuple[RunData, int]]] = {}
    for data in datas:
        for run in data.runs:
            members.setdefault(data.policy, []).append((data, run))
    groups = [Group(policy, tuple(m)) for policy, m in members.items()]
    for g in groups:
        pools = {frozenset(d.tasks) for d, _ in g.members}
        if len(pools) > 1:
            log.warning("policy %s: runs use different task pools; unanimous@k uses ids", g.policy)
    return groups


def solved_per_generation(groups: Sequence[Group], split: str) -> Table:
    """Return mean/min/max solved and unanimous@k per generation for each policy."""
    rows = []
    for g in groups:
        total = len(g.tasks(split))
        problem_of = {t.task_id: t.problem_key for t in g.tasks(split)}
        for gen in g.generations:
            counts = [len(s) for s in g.solved(gen, split)]
            unanimous = len(frozenset.intersection(*g.solved(gen, split)))
            problems = [len({problem_of[t] for t in s}) for s in g.solved(gen, split)]
            rows.append(
                (
                    g.policy,
                    gen,
                    g.k,
                    total,
                    _r(fmean(counts)),
                    min(counts),
                    max(counts),
                    _rate(fmean(counts), total),
                    unanimous,
                    len(set(problem_of.values())),
                    _r(fmean(problems)),
                )
            )
    columns = ("policy", "generation", "runs", "tasks", "mean", "min", "max", "rate")
    return Table(
        f"solved_{split}",
        f"Solved {split} tasks per generation (mean over runs, min-max)",
        (*columns, "unanimous@k", "problems", "problems mean"),
        tuple(rows),
        "unanimous@k: tasks solved in all k runs of the policy. problems: distinct problems "
        "among the tasks (a difficulty level that ran out of new problems holds copies of one); "
        "problems mean: distinct problems solved (by any copy), mean over runs.",
    )


def headline(groups: Sequence[Group], split: str) -> Table:
    """Return base -> final generation: mean solved, relative increase, final solve rate."""
    rows = []
    for g in groups:
        total, last = len(g.tasks(split)), g.generations[-1]
        first = fmean(len(s) for s in g.solved(0, split))
        final = fmean(len(s) for s in g.solved(last, split))
        increase = None if first == 0 else _r(100 * (final - first) / first)
        rows.append(
            (
                g.policy,
                g.k,
                total,
                _r(first),
                last,
                _r(final),
                increase,
                _rate(final, total),
                len(frozenset.intersection(*g.solved(0, split))),
                len(frozenset.intersection(*g.solved(last, split))),
            )
        )
    return Table(
        f"headline_{split}",
        f"Base model vs final generation ({split})",
        (
            "policy",
            "runs",
            "tasks",
            "base_mean",
            "final_generation",
            "final_mean",
            "relative_increase_pct",
            "final_rate",
            "unanimous_base",
            "unanimous_final",
        ),
        tuple(rows),
        "relative increase is empty when the base model solved nothing.",
    )


def solved_per_difficulty(groups: Sequence[Group], split: str) -> Table:
    """Return mean solved per (domain, difficulty), one column per generation, per policy."""
    gens = range(max(len(g.generations) for g in groups))
    rows = []
    for g in groups:
        by_level = _by_group(g.tasks(split), ("domain", "difficulty"))
        for (domain, level), ids in sorted(by_level.items(), key=lambda kv: _level_key(kv[0])):
            means = [
                _r(fmean(len(s & ids) for s in g.solved(gen, split)))
                if gen in g.generations
                else None
                for gen in gens
            ]
            rows.append((g.policy, domain, level, len(ids), *means))
    return Table(
        f"difficulty_{split}",
        f"Solved {split} tasks per difficulty level (mean over runs, by generation)",
        ("policy", "domain", "difficulty", "tasks", *(f"g{gen}" for gen in gens)),
        tuple(rows),
    )


def ablation(groups: Sequence[Group], split: str) -> Table | None:
    """Return policies side by side (mean solved and curated size); None for one policy."""
    if len(groups) < 2:
        return None
    gens = range(max(len(g.generations) for g in groups))
    columns = ["generation"]
    for g in groups:
        columns += [f"{g.policy} solved", f"{g.policy} curated"]
    rows = []
    for gen in gens:
        row: list[Any] = [gen]
        for g in groups:
            if gen in g.generations:
                row += [_r(fmean(len(s) for s in g.solved(gen, split))), _curated_mean(g, gen)]
            else:
                row += [None, None]
        rows.append(tuple(row))
    return Table(
        f"ablation_{split}",
        f"Curation ablation: mean solved {split} tasks and curated-set size per policy",
        tuple(columns),
        tuple(rows),
        "curated: the size of the set that generation's model was trained on (mean over runs).",
    )


def curated_sizes(groups: Sequence[Group]) -> Table:
    """Return the curated-set size per policy and generation (mean, min, max over runs)."""
    rows = []
    for g in groups:
        for gen in g.generations[1:]:
            sizes = [d.size for d in _datasets(g, gen)]
            if sizes:
                rows.append((g.policy, gen, len(sizes), _r(fmean(sizes)), min(sizes), max(sizes)))
    return Table(
        "curated_sizes",
        "Curated-set sizes (the examples each generation's model was trained on)",
        ("policy", "generation", "runs", "mean", "min", "max"),
        tuple(rows),
    )


def training(groups: Sequence[Group]) -> Table:
    """Return each stored fine-tune: its kind, logged steps, and first and last losses."""
    rows = []
    for g in groups:
        for data, run in g.members:
            for m in data.models:
                if m.run != run or m.kind == "base":
                    continue
                rows.append(
                    (
                        g.policy,
                        data.run_id,
                        run,
                        m.generation,
                        m.kind,
                        m.losses[-1][0] if m.losses else None,
                        m.losses[0][1] if m.losses else None,
                        m.losses[-1][1] if m.losses else None,
                        m.eval_losses[-1][1] if m.eval_losses else None,
                    )
                )
    return Table(
        "training",
        "Fine-tuning of each generation's model (from the base model, on its curated set)",
        (
            "policy",
            "run_id",
            "run",
            "generation",
            "kind",
            "last_step",
            "first_loss",
            "last_loss",
            "last_eval_loss",
        ),
        tuple(rows),
        "Losses as logged every training.logging_steps optimizer steps; generations trained on "
        "an empty set are the base model and are not listed.",
    )


def plan_and_tokens(groups: Sequence[Group]) -> Table:
    """Return mean shortest solved plan length, its ratio to the reference, and mean tokens."""
    rows = []
    for g in groups:
        for gen in g.generations:
            lengths, ratios, tokens = [], [], []
            for data, run in g.members:
                best = shortest_valid(data, run, gen, "pool")
                lengths += best.values()
                ratios += [
                    n / data.tasks[t].reference_length
                    for t, n in best.items()
                    if data.tasks[t].reference_length
                ]
                tokens += [t.reasoning_tokens for t in data.traces_of(run, gen, "pool")]
            rows.append(
                (
                    g.policy,
                    gen,
                    len(lengths),
                    _mean(lengths),
                    _median(lengths),
                    _mean(ratios),
                    _mean(tokens),
                )
            )
    return Table(
        "plan_length_tokens",
        "Solved plan length (shortest valid plan per task) and reasoning tokens, pool tasks",
        (
            "policy",
            "generation",
            "solved",
            "mean_plan_length",
            "median_plan_length",
            "mean_ratio_to_reference",
            "mean_reasoning_tokens",
        ),
        tuple(rows),
        "reasoning tokens: mean over all pool traces of the generation, valid or not.",
    )


def paper_table(groups: Sequence[Group]) -> Table:
    """Return the paper's table per domain: per generation, solved pool and held-out tasks
    (mean, min-max over runs, unanimous@k, distinct problems), plan length and reasoning tokens.
    """
    rows = []
    for g in groups:
        domains = sorted({t.domain for t in g.tasks("pool") + g.tasks("heldout")})
        for domain in domains:
            for gen in g.generations:
                cells: list[Any] = [g.policy, domain, gen, g.k]
                for split in SPLITS:
                    tasks = [t for t in g.tasks(split) if t.domain == domain]
                    ids = frozenset(t.task_id for t in tasks)
                    problem_of = {t.task_id: t.problem_key for t in tasks}
                    solved = [s & ids for s in g.solved(gen, split)]
                    counts = [len(s) for s in solved]
                    problems = [len({problem_of[t] for t in s}) for s in solved]
                    cells += [len(ids), _r(fmean(counts)), min(counts), max(counts)]
                    cells += [len(frozenset.intersection(*solved)), _r(fmean(problems))]
                lengths, tokens = [], []
                for data, run in g.members:
                    traces = [
                        t
                        for t in data.traces_of(run, gen, "pool")
                        if t.valid and data.tasks[t.task_id].domain == domain
                    ]
                    best = shortest_valid(data, run, gen, "pool")
                    lengths += [n for t, n in best.items() if data.tasks[t].domain == domain]
                    tokens += [t.reasoning_tokens for t in traces]
                rows.append((*cells, _mean(lengths), _mean(tokens)))
    split_columns = ("tasks", "mean", "min", "max", "unanimous@k", "problems")
    return Table(
        "paper_table",
        "Per domain, as the paper reports it: solved tasks per generation (mean, min-max)",
        (
            "policy",
            "domain",
            "generation",
            "runs",
            *(f"{split} {column}" for split in SPLITS for column in split_columns),
            "plan length",
            "reasoning tokens",
        ),
        tuple(rows),
        "unanimous@k: tasks solved in all k runs. problems: distinct problems solved, mean over "
        "runs. plan length: shortest valid plan of each solved pool task; reasoning tokens: mean "
        "over the valid pool traces (both pooled over runs).",
    )


def shortest_valid(data: RunData, run: int, generation: int, split: str) -> dict[str, int]:
    """Return task_id -> length of its shortest valid plan in (run, generation) for `split`."""
    best: dict[str, int] = {}
    for t in data.traces_of(run, generation, split):
        if t.valid:
            best[t.task_id] = min(best.get(t.task_id, len(t.plan)), len(t.plan))
    return best


# ---- regression monitor ----------------------------------------------------------------------


def regressions(groups: Sequence[Group]) -> tuple[Table, Table]:
    """Return (summary, list): tasks solved by generation n-1 and lost by n.

    The summary counts lost and newly solved tasks per policy, split, domain, difficulty and
    generation, summed over runs; the list names every lost task.
    """
    counts: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    lost_rows = []
    for g in groups:
        for data, run in g.members:
            for split in SPLITS:
                for gen in g.generations[1:]:
                    before, now = data.solved(run, gen - 1, split), data.solved(run, gen, split)
                    for task_id in sorted(before - now):
                        task = data.tasks[task_id]
                        counts[(g.policy, split, task.domain, task.difficulty, gen)][0] += 1
                        lost_rows.append(
                            (
                                g.policy,
                                data.run_id,
                                run,
                                gen,
                                split,
                                task.domain,
                                task.difficulty,
                                task_id,
                            )
                        )
                    for task_id in now - before:
                        task = data.tasks[task_id]
                        counts[(g.policy, split, task.domain, task.difficulty, gen)][1] += 1
    summary = tuple(
        (*key, lost, gained)
        for key, (lost, gained) in sorted(counts.items(), key=lambda kv: _level_key(kv[0]))
    )
    return (
        Table(
            "regressions",
            "Regression monitor: tasks solved by generation n-1 and lost by n (summed over runs)",
            ("policy", "split", "domain", "difficulty", "generation", "lost", "gained"),
            summary,
        ),
        Table(
            "regressions_list",
            "Every task lost from one generation to the next",
            ("policy", "run_id", "run", "generation", "split", "domain", "difficulty", "task_id"),
            tuple(lost_rows),
        ),
    )


# ---- helpers ---------------------------------------------------------------------------------


def _datasets(g: Group, generation: int):
    return [d for data, run in g.members if (d := data.dataset(run, generation)) is not None]


def _curated_mean(g: Group, generation: int) -> float | None:
    sizes = [d.size for d in _datasets(g, generation)]
    return _r(fmean(sizes)) if sizes else None


def _by_group(tasks: Iterable[TaskRecord], keys: Sequence[str]) -> dict[tuple, frozenset[str]]:
    out: dict[tuple, set[str]] = defaultdict(set)
    for t in tasks:
        out[tuple(getattr(t, k) for k in keys)].add(t.task_id)
    return {k: frozenset(v) for k, v in out.items()}


def _level_key(key: tuple) -> tuple:
    # Difficulty levels are stored as text; sort "10" after "9".
    return tuple((0, int(x), "") if str(x).lstrip("-").isdigit() else (1, 0, str(x)) for x in key)


def format_paper_table(table: Table) -> str:
    """Return `paper_table` as text: one block per (policy, domain), a row per generation."""
    lines = [table.title]
    blocks: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in table.records():
        blocks[(record["policy"], record["domain"])].append(record)
    for (policy, domain), records in blocks.items():
        first, k = records[0], records[0]["runs"]
        lines.append(
            f"\n{domain} ({policy}, {k} run{'s' * (k > 1)}): {first['pool tasks']} pool tasks, "
            f"{first['heldout tasks']} held out"
        )
        header = ("gen", "pool mean (min-max)", f"unan@{k}", "problems",
                  "held-out mean (min-max)", f"unan@{k}", "problems", "plan", "think")  # fmt: skip
        cells = [header]
        for r in records:
            row = [str(r["generation"])]
            for split in SPLITS:
                row += [
                    f"{r[f'{split} mean']:g} ({r[f'{split} min']}-{r[f'{split} max']})",
                    str(r[f"{split} unanimous@k"]),
                    f"{r[f'{split} problems']:g}",
                ]
            for column in ("plan length", "reasoning tokens"):
                row.append("-" if r[column] is None else f"{r[column]:.1f}")
            cells.append(row)
        widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.append(f"\n{table.note}")
    return "\n".join(lines)


def format_table(table: Table, max_rows: int = 50) -> str:
    """Return `table` as aligned text: the title, a header and at most `max_rows` rows."""
    cells = [list(table.columns)] + [
        ["-" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in row]
        for row in table.rows[:max_rows]
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(table.columns))]
    lines = [table.title]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    if len(table.rows) > max_rows:
        lines.append(f"... {len(table.rows) - max_rows} more rows")
    return "\n".join(lines)
