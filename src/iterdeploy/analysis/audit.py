"""The reward audit: what the validator and the curation rule actually favoured.

Selection is the loop's reward (docs/theory.md): a trace that enters the curated set is
reinforced, any other is not. For each run the audit takes the final curated set and the
candidates its policy saw (every pool trace of the earlier generations) and compares three
sets: all candidates, the valid ones, the curated ones. The selection rate per bin of a feature
is that implicit reward written out as a table. It also follows the curated pool across
generations (drift) and looks where the validator is blind: valid plans at least twice the
reference length, and whether curation kept them. Plan quality walks each plan through the
validator's own states (`iterdeploy.pddl.validate`): a step that returns to a state the plan
was already in is a detour, and one that returns to the state before the previous step undoes
that step (stack a b, then unstack a b).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from statistics import fmean, quantiles
from typing import Any

from iterdeploy.analysis.data import DatasetRecord, RunData
from iterdeploy.analysis.metrics import Group, Table
from iterdeploy.analysis.stats import mean as _mean
from iterdeploy.analysis.stats import median2 as _median
from iterdeploy.analysis.stats import rate as _rate
from iterdeploy.analysis.walks import PlanWalk, plan_walks
from iterdeploy.records import StoredTrace

LONG_RATIO = 2.0  # a valid plan this many times the reference length is "long"
MAX_ACTIONS = 12  # action rows shown when no plan is valid (garbage names are pooled)
SETS = ("all", "valid", "curated")


def audit_tables(group: Group, long_ratio: float = LONG_RATIO) -> list[Table]:
    """Return the audit of one policy's runs: comparison, selection, drift, blind spots."""
    sets: dict[str, list[tuple[RunData, StoredTrace]]] = {name: [] for name in SETS}
    for data, run in group.members:
        final = _final_dataset(data, run)
        if final is None:
            continue
        chosen = _curated_keys(final)
        for t in _candidates(data, run, final.generation):
            sets["all"].append((data, t))
            if t.valid:
                sets["valid"].append((data, t))
            if t.key in chosen:
                sets["curated"].append((data, t))
    label = group.policy
    if not sets["all"]:
        note = "no curated set yet: the runs stopped before the first curation"
        return [
            Table(_name("audit_compare", label), f"Reward audit ({label})", ("note",), ((note,),))
        ]
    walks = plan_walks(sets["all"])
    return [
        compare(sets, label),
        plan_quality(sets, walks, label),
        selection(sets, label),
        actions(sets, label),
        drift(group),
        blind_spots(group, long_ratio),
        counter_rewards(group),
    ]


def compare(sets: dict[str, list[tuple[RunData, StoredTrace]]], label: str) -> Table:
    """Return all vs valid vs curated traces on length, tokens, difficulty and plan features."""
    rows = []
    for name in SETS:
        items = sets[name]
        lengths = [len(t.plan) for _, t in items]
        ratios = [r for d, t in items if (r := ratio(d, t)) is not None]
        rows.append(
            (
                name,
                len(items),
                len({(t.run, t.task_id) for _, t in items}),
                _mean(lengths),
                _median(lengths),
                _mean(ratios),
                _share(ratios, lambda r: r >= LONG_RATIO),
                _mean([t.reasoning_tokens for _, t in items]),
                _share(items, lambda it: it[1].truncated),
                _mean([_distinct_share(t.plan) for _, t in items if t.plan]),
                _mix(d.tasks[t.task_id].difficulty for d, t in items),
                _mix(d.tasks[t.task_id].domain for d, t in items),
            )
        )
    return Table(
        _name("audit_compare", label),
        f"Reward audit ({label}): all candidate traces vs valid vs curated (final curated set)",
        (
            "set",
            "traces",
            "tasks",
            "mean_plan_length",
            "median_plan_length",
            "mean_ratio_to_reference",
            "share_ratio_ge_2",
            "mean_reasoning_tokens",
            "share_truncated",
            "distinct_step_share",
            "difficulty_mix",
            "domain_mix",
        ),
        tuple(rows),
        "Candidates: every pool trace of the generations before the final curated set. "
        "distinct_step_share: distinct steps / plan length (1 = no step repeated).",
    )


def plan_quality(
    sets: dict[str, list[tuple[RunData, StoredTrace]]],
    walks: Mapping[tuple, PlanWalk],
    label: str,
) -> Table:
    """Return detours (revisited states), undone steps and length / reference per set."""
    rows = []
    for name in SETS:
        found = [w for d, t in sets[name] if (w := walks.get((d.folder, t.key))) is not None]
        ratios = [r for d, t in sets[name] if (r := ratio(d, t)) is not None]
        rows.append(
            (
                name,
                len(found),
                _mean([w.steps for w in found]),
                _mean([w.revisits for w in found]),
                _share(found, lambda w: w.revisits > 0),
                _mean([w.undone for w in found]),
                _share(found, lambda w: w.undone > 0),
                _mean(ratios),
            )
        )
    return Table(
        _name("audit_plan_quality", label),
        f"Plan quality ({label}): detours and undone steps, replayed on the task's states",
        (
            "set",
            "plans",
            "mean_steps_applied",
            "mean_revisits",
            "share_with_revisit",
            "mean_undone_pairs",
            "share_with_undone_pair",
            "mean_ratio_to_reference",
        ),
        tuple(rows),
        "Each plan is replayed from the initial state until its first inapplicable step "
        "(all of it for a valid plan). revisits: steps that reach a state the plan was already "
        "in (a detour; an undone pair is one too); undone pairs: steps that restore the state "
        "before the previous step, e.g. (stack a b) then (unstack a b). ratio: plan length / "
        "reference plan length.",
    )


def selection(sets: dict[str, list[tuple[RunData, StoredTrace]]], label: str) -> Table:
    """Return selection rates per bin of each feature: the implicit reward as a table."""
    cuts = _cuts([t.reasoning_tokens for _, t in sets["all"]])
    edges = [float("-inf"), *cuts, float("inf")]
    token_bins = [f"q[{_num(lo)}, {_num(hi)})" for lo, hi in zip(edges, edges[1:], strict=False)]
    features: dict[str, Callable[[RunData, StoredTrace], str]] = {
        "plan length / reference": lambda d, t: _ratio_bin(ratio(d, t), t),
        "reasoning tokens": lambda d, t: token_bins[bisect_right(cuts, t.reasoning_tokens)],
        "difficulty": lambda d, t: d.tasks[t.task_id].difficulty,
        "domain": lambda d, t: d.tasks[t.task_id].domain,
        "source generation": lambda d, t: str(t.generation),
        "truncated": lambda d, t: "yes" if t.truncated else "no",
    }
    overall = len(sets["curated"]) / len(sets["all"])
    rows = []
    for feature, bin_of in features.items():
        counts = {name: Counter(bin_of(d, t) for d, t in sets[name]) for name in SETS}
        cur_valid = Counter(bin_of(d, t) for d, t in sets["curated"] if t.valid)
        for b in sorted(counts["all"], key=_bin_key):
            n_all, n_valid, n_cur = (counts[name][b] for name in SETS)
            p_cur = n_cur / n_all
            rows.append(
                (
                    feature,
                    b,
                    n_all,
                    n_valid,
                    n_cur,
                    round(n_valid / n_all, 4),
                    _rate(cur_valid[b], n_valid),
                    round(p_cur, 4),
                    None if overall == 0 else round(p_cur / overall, 3),
                )
            )
    return Table(
        _name("audit_selection", label),
        f"Implicit reward ({label}): selection rate per bin",
        (
            "feature",
            "bin",
            "all",
            "valid",
            "curated",
            "p_valid",
            "p_curated_given_valid",
            "p_curated",
            "lift",
        ),
        tuple(rows),
        "p_valid is what the validator rewards, p_curated_given_valid what curation adds on "
        "top, p_curated the reward a trace in the bin received (it can include invalid traces "
        "when the policy keeps them). lift = p_curated over its overall rate (above 1: "
        "favoured).",
    )


def actions(sets: dict[str, list[tuple[RunData, StoredTrace]]], label: str) -> Table:
    """Return the share of each action name among the steps of all, valid and curated plans."""
    # Count steps first: plans repeat the same ground steps, so each is parsed once.
    steps = {name: Counter(s for _, t in sets[name] for s in t.plan) for name in SETS}
    counts = {name: Counter() for name in SETS}
    for name, by_step in steps.items():
        for step, n in by_step.items():
            counts[name][_action(step)] += n
    totals = {name: sum(c.values()) for name, c in counts.items()}
    # Rows: the actions of valid plans (the domain's own), else the most common names; the
    # rest (garbage from invalid outputs) is pooled into one "(other)" row.
    named = set(counts["valid"]) | set(counts["curated"])
    shown = [a for a, _ in counts["all"].most_common() if a in named]
    shown = shown or [a for a, _ in counts["all"].most_common(MAX_ACTIONS)]
    for name in SETS:
        counts[name]["(other)"] = totals[name] - sum(counts[name][a] for a in shown)
    rows = tuple(
        (action, *(_rate(counts[n][action], totals[n]) for n in SETS))
        for action in [*shown, "(other)"]
        if counts["all"][action]
    )
    return Table(
        _name("audit_actions", label),
        f"Plan features ({label}): share of each action among plan steps",
        ("action", "all", "valid", "curated"),
        rows,
        "(other): step names that no valid plan uses, e.g. garbage from invalid outputs.",
    )


def drift(group: Group) -> Table:
    """Return how the curated pool changes across generations (mean over runs)."""
    per_gen: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for data, run in group.members:
        previous: set[tuple[int, int, str, int]] = set()
        keys = {t.key: t for t in data.traces if t.run == run}
        for d in sorted((d for d in data.datasets if d.run == run), key=lambda d: d.generation):
            current = _curated_keys(d)
            chosen = [keys[k] for k in sorted(current) if k in keys]
            ratios = [r for t in chosen if (r := ratio(data, t)) is not None]
            per_gen[d.generation].append(
                (
                    d.size,
                    len({k[2] for k in current} - {k[2] for k in previous}),
                    len(current - previous),
                    len(previous - current),
                    _mean_raw([len(t.plan) for t in chosen]),
                    _mean_raw(ratios),
                    _mean_raw([t.reasoning_tokens for t in chosen]),
                    _mean_raw([d.generation - 1 - g for g, _, _ in d.sources]),
                )
            )
            previous = current
    rows = tuple(
        (gen, len(vals), *(_mean([v[i] for v in vals if v[i] is not None]) for i in range(8)))
        for gen, vals in sorted(per_gen.items())
    )
    return Table(
        _name("audit_drift", group.policy),
        f"Curated-pool drift across generations ({group.policy}, mean over runs)",
        (
            "generation",
            "runs",
            "size",
            "new_tasks",
            "added_traces",
            "dropped_traces",
            "mean_plan_length",
            "mean_ratio_to_reference",
            "mean_reasoning_tokens",
            "mean_age",
        ),
        rows,
        "new_tasks: tasks absent from the previous curated set; added/dropped_traces: traces "
        "that entered or left it (a replaced example counts once each); mean_age: generations "
        "between a trace and the newest generation the set could draw from (0 = newest).",
    )


def blind_spots(group: Group, long_ratio: float = LONG_RATIO) -> Table:
    """Return, per generation, valid pool plans >= long_ratio x reference and their fate."""
    rows = []
    for gen in group.generations:
        valid = long_valid = entered_next = in_final = 0
        for data, run in group.members:
            nxt = data.dataset(run, gen + 1)
            final = _final_dataset(data, run)
            next_keys = _curated_keys(nxt) if nxt else set()
            final_keys = _curated_keys(final) if final else set()
            for t in data.traces_of(run, gen, "pool"):
                if not t.valid:
                    continue
                valid += 1
                r = ratio(data, t)
                if r is not None and r >= long_ratio:
                    long_valid += 1
                    entered_next += t.key in next_keys
                    in_final += t.key in final_keys
        rows.append((gen, valid, long_valid, _rate(long_valid, valid), entered_next, in_final))
    return Table(
        _name("audit_blind_spots", group.policy),
        f"Validator blind spot ({group.policy}): valid plans >= {long_ratio:g}x the reference "
        "length",
        (
            "generation",
            "valid",
            f"valid_ge_{long_ratio:g}x",
            "share",
            "entered_next_set",
            "in_final_set",
        ),
        tuple(rows),
        "The validator accepts these plans; the columns on the right say whether curation "
        "passed them on to training.",
    )


def counter_rewards(group: Group) -> Table:
    """Return how many valid and curated traces fail each stored counter-reward check."""
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for data, run in group.members:
        final = _final_dataset(data, run)
        chosen = _curated_keys(final) if final else set()
        for t in data.traces:
            if t.run != run or not t.valid or t.split != "pool":
                continue
            for name, passed in t.checks.items():
                stats[name][0] += 1
                stats[name][1] += not passed
                if t.key in chosen:
                    stats[name][2] += 1
                    stats[name][3] += not passed
    rows = tuple(
        (name, v, f, _rate(f, v), c, cf, _rate(cf, c))
        for name, (v, f, c, cf) in sorted(stats.items())
    )
    return Table(
        _name("audit_checks", group.policy),
        f"Counter-reward checks on valid pool traces ({group.policy})",
        ("check", "valid", "valid_failing", "share", "curated", "curated_failing", "share"),
        rows,
        "Checks are configured as curation.checks; empty when none is configured.",
    )


# ---- helpers ---------------------------------------------------------------------------------


def ratio(data: RunData, trace: StoredTrace) -> float | None:
    """Return plan length / reference length, or None without a reference or a plan."""
    ref = data.tasks[trace.task_id].reference_length
    return len(trace.plan) / ref if ref and trace.plan else None


def _final_dataset(data: RunData, run: int) -> DatasetRecord | None:
    # A curated set counts once every generation it drew from is evaluated (its own model may
    # still be training or deploying).
    last = max(data.generations[run])
    mine = [d for d in data.datasets if d.run == run and d.generation <= last + 1]
    return max(mine, key=lambda d: d.generation, default=None)


def _curated_keys(d: DatasetRecord) -> set[tuple[int, int, str, int]]:
    return {(d.run, g, task, s) for g, task, s in d.sources}


def _candidates(data: RunData, run: int, generation: int) -> list[StoredTrace]:
    return [t for g in range(generation) for t in data.traces_of(run, g, "pool")]


def _action(step: str) -> str:
    parts = step.strip("() ").split()
    return parts[0] if parts else "?"


def _distinct_share(plan: Sequence[str]) -> float:
    return len(set(plan)) / len(plan)


def _ratio_bin(r: float | None, t: StoredTrace) -> str:
    if not t.plan:
        return "no plan"
    if r is None:
        return "no reference"
    if r <= 1.0:
        return "<= 1"
    if r <= 1.5:
        return "(1, 1.5]"
    return "(1.5, 2)" if r < 2.0 else ">= 2"


def _cuts(values: Sequence[int]) -> list[float]:
    return sorted(set(quantiles(values, n=4))) if len(values) >= 2 else []


def _num(x: float) -> str:
    return "-inf" if x == float("-inf") else "inf" if x == float("inf") else f"{x:g}"


def _bin_key(b: str) -> tuple:
    order = ["<= 1", "(1, 1.5]", "(1.5, 2)", ">= 2", "no reference", "no plan"]
    if b in order:
        return (0, order.index(b), 0.0, b)
    if b.startswith("q["):
        head = b[2:].split(",")[0]
        return (1, 0, float(head), b)
    return (2, 0, float(b), b) if b.lstrip("-").isdigit() else (3, 0, 0.0, b)


def _mix(values) -> str:
    counts = Counter(values)
    total = sum(counts.values())
    return " ".join(
        f"{k}:{v / total:.2f}"
        for k, v in sorted(counts.items(), key=lambda kv: _bin_key(str(kv[0])))
    )


def _name(stem: str, label: str) -> str:
    safe = "".join(c if c.isalnum() else "-" for c in label).strip("-")
    return f"{stem}_{safe}"


def _share(items, predicate) -> float | None:
    return round(sum(1 for x in items if predicate(x)) / len(items), 4) if items else None


def _mean_raw(values: Sequence[float]) -> float | None:
    return fmean(values) if values else None


def audit_run(folder: str | Path, long_ratio: float = LONG_RATIO) -> list[Table]:
    """Return the reward audit of every policy in the run folder `folder`."""
    from iterdeploy.analysis.data import load_run
    from iterdeploy.analysis.metrics import group_runs

    return [t for g in group_runs([load_run(folder)]) for t in audit_tables(g, long_ratio)]
