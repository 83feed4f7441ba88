"""`iterdeploy report`: one self-contained report.html, PNG plots and CSV/JSON tables.

The HTML embeds its images as base64 data URIs and its style inline, so it opens from disk
with no network. Tables go to `<out>/tables/<name>.csv` and `.json` (the HTML shows at most
`MAX_HTML_ROWS` rows of a table; the files hold all of them).
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import html
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from iterdeploy.analysis import metrics
from iterdeploy.analysis.audit import LONG_RATIO, audit_tables
from iterdeploy.analysis.data import RunData, load_run
from iterdeploy.analysis.governance import gate_table, loop_deployments_table
from iterdeploy.analysis.metrics import Group, Table
from iterdeploy.analysis.verdict import Verdict, folder_gate, run_config, verdict
from iterdeploy.loop.gate import GateConfig
from iterdeploy.registry import load_object

log = logging.getLogger(__name__)

MAX_HTML_ROWS = 200


@dataclass(frozen=True, slots=True)
class Section:
    """A heading, a sentence on how to read it, its tables and its figures."""

    title: str
    intro: str
    tables: tuple[Table, ...]
    figures: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)
class Report:
    """What `write_report` produced."""

    html: Path
    tables: tuple[Path, ...]
    figures: tuple[Path, ...]
    sections: tuple[Section, ...]
    verdict: Verdict

    def summary(self) -> str:
        """Return the verdict, then the headline tables (base vs final, pool and held-out)."""
        heads = [t for s in self.sections for t in s.tables if t.name.startswith("headline_")]
        return "\n\n".join([self.verdict.text(), *(metrics.format_table(t) for t in heads)])


def write_report(
    folders: Sequence[str | Path],
    out: str | Path,
    gate: GateConfig | None = None,
    long_ratio: float = LONG_RATIO,
) -> Report:
    """Write the report of the run folders `folders` into `out` and return what it wrote.

    `gate` None measures each folder with its own configured [gate] thresholds.
    """
    out = Path(out)
    datas = label_runs([load_run(f) for f in folders])
    groups = metrics.group_runs(datas)
    has_heldout = any(d.split_tasks("heldout") for d in datas)
    found = verdict(datas, groups, gate)
    figures = _figures(groups, out)
    sections = _sections(datas, groups, figures, gate or folder_gate(datas[0]), long_ratio,
                         has_heldout)  # fmt: skip
    table_files = _write_tables([t for s in sections for t in s.tables], out / "tables")
    page = out / "report.html"
    page.write_text(render_html(sections, datas, found), encoding="utf-8")
    log.info("report: %s (%d tables, %d figures)", page, len(table_files) // 2, len(figures))
    return Report(page, tuple(table_files), tuple(figures.values()), tuple(sections), found)


def label_runs(datas: list[RunData]) -> list[RunData]:
    """Return `datas` labelled for the legend: by policy, or by seed where folders share one.

    Folders of one policy and seed keep one label, so their runs pool as repetitions.
    """
    policies = [d.policy for d in datas]
    if len(set(policies)) == len(policies):
        return datas
    out = []
    for d in datas:
        if policies.count(d.policy) == 1:
            out.append(d)
            continue
        seed = run_config(d).get("loop", {}).get("seed", 0)
        out.append(dataclasses.replace(d, policy=f"{d.policy}, seed {seed}"))
    return out


def _figures(groups: list[Group], out: Path) -> dict[str, Path]:
    # Through load_object: without matplotlib the error names `pip install 'iterdeploy[plot]'`.
    plots = load_object("iterdeploy.analysis.plots:PLOTS", what="iterdeploy report")
    return {stem: plot(groups, out / f"{stem}.png") for stem, plot in plots.items()}


def _sections(
    datas: list[RunData],
    groups: list[Group],
    figures: dict[str, Path],
    gate: GateConfig,
    long_ratio: float,
    has_heldout: bool,
) -> list[Section]:
    summary, lost = metrics.regressions(groups)
    sections = [
        _split_section(
            groups,
            "pool",
            "Pool tasks",
            "The tasks the models are deployed on and curated from (the paper's only split). "
            "The figure puts pool (solid) and held-out (dashed) solve rates on one axis; the "
            "second panel (or row) counts distinct problems, the honest measure when a pool "
            "repeats one.",
            (figures["solved"],),
        )
    ]
    if has_heldout:
        sections.append(
            _split_section(
                groups,
                "heldout",
                "Held-out tasks",
                "Evaluated every generation, never curated from: the honest generalisation figure.",
            )
        )
    sections.append(
        Section(
            "Per domain",
            "The paper's table, one block of rows per domain: solved pool and held-out tasks "
            "per generation (mean, min-max over runs, unanimous@k, distinct problems), the "
            "shortest valid plan of each solved task and the reasoning tokens of valid traces.",
            _per_domain(metrics.paper_table(groups)),
            (figures["domains"],),
        )
    )
    ablation = metrics.ablation(groups, "pool")
    sections += [
        Section(
            "Curation",
            "What each generation was trained on, and the share of sampled traces that were "
            "valid (the pool the curation selects from).",
            tuple(t for t in (metrics.curated_sizes(groups), ablation) if t is not None),
            (figures["curation"],),
        ),
        Section(
            "Plan lengths and reasoning tokens",
            "How long the solved plans were next to the reference plans of the same tasks, and "
            "how much the models reasoned.",
            (metrics.plan_and_tokens(groups),),
            (figures["plan_lengths"], figures["length_ratio"], figures["reasoning_tokens"]),
        ),
        Section(
            "Training",
            "The SFT loss of each generation's model (trained from the base model on its curated "
            "set): the mean cross-entropy of the completion tokens, per logged optimizer step; "
            "dashed: validation loss.",
            (metrics.training(groups),),
            (figures["training_loss"],),
        ),
        Section(
            "Release gate",
            "Which model the loop deployed at each generation, which generation the gate would "
            "deploy, and the deployed pointer in the store.",
            (loop_deployments_table(datas), gate_table(datas, gate)),
        ),
    ]
    for g in groups:
        sections.append(
            Section(
                f"Reward audit: {g.policy}",
                "What the validator and the curation rule favoured: selection is the reward "
                "(docs/theory.md).",
                tuple(audit_tables(g, long_ratio)),
            )
        )
    sections.append(
        Section(
            "Regression monitor",
            "Tasks solved by generation n-1 and no longer by generation n: counts per group, "
            "then every such task.",
            (summary, lost),
        )
    )
    return sections


def _per_domain(table: metrics.Table) -> tuple[metrics.Table, ...]:
    """Return the paper's table as one page-wide table per split (all columns are too wide)."""
    keys = ("policy", "domain", "generation", "runs")
    pool = [c for c in table.columns if c.startswith("pool ")]
    heldout = [c for c in table.columns if c.startswith("heldout ")]
    return (
        table.select("paper_table_pool", "Per domain: pool tasks, plan length and reasoning "
                     "tokens", (*keys, *pool, "plan length", "reasoning tokens")),
        table.select("paper_table_heldout", "Per domain: held-out tasks", (*keys, *heldout)),
    )  # fmt: skip


def _split_section(
    groups: list[Group], split: str, title: str, intro: str, figures: tuple[Path, ...] = ()
) -> Section:
    tables = (
        metrics.headline(groups, split),
        metrics.solved_per_generation(groups, split),
        metrics.solved_per_difficulty(groups, split),
    )
    return Section(title, intro, tables, figures)


def _write_tables(tables: list[Table], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in tables:
        csv_path = folder / f"{table.name}.csv"
        with open(csv_path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(table.columns)
            writer.writerows(table.rows)
        json_path = folder / f"{table.name}.json"
        json_path.write_text(
            json.dumps(
                {"title": table.title, "note": table.note, "rows": table.records()}, indent=1
            )
            + "\n",
            encoding="utf-8",
        )
        paths += [csv_path, json_path]
    return paths


# ---- HTML ------------------------------------------------------------------------------------

OPEN_ROWS = 15  # a longer table starts folded (its title stays visible), as do lists of tasks

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1240px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1em; margin-bottom: 0.3em; }
section.verdict { background: #fff6d6; border: 2px solid #e0b000; border-radius: 6px;
                  padding: 0.6em 1.2em 0.8em; margin: 1em 0 1.5em; }
section.verdict h2 { margin-top: 0.3em; border: none; }
section.verdict ul { margin: 0.3em 0; padding-left: 1.2em; } section.verdict li { margin: 0.2em 0; }
p.flag { background: #c62828; color: white; font-weight: bold; padding: 0.4em 0.7em;
         border-radius: 4px; margin: 0.4em 0; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; max-width: 100%; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: right; vertical-align: top; }
th { background: #f3f3f3; text-align: center; }
td.text { text-align: left; overflow-wrap: break-word; }
table.settings td, table.settings th { text-align: left; }
details { margin: 0.5em 0 1.5em; } summary { cursor: pointer; font-weight: 600; }
p.note { color: #555; font-size: 0.85em; margin: 0; }
img { max-width: 100%; margin: 0.5em 0; border: 1px solid #eee; display: block; }
nav ul { columns: 3; }
"""


def render_html(sections: Sequence[Section], datas: Sequence[RunData], found: Verdict) -> str:
    """Return the whole report page (inline style, images as data URIs): the verdict first."""
    runs = ", ".join(
        f"{html.escape(d.run_id)} ({html.escape(d.policy)}, {len(d.runs)} runs)" for d in datas
    )
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    body = [f"<h1>iterdeploy report</h1><p>Run folders: {runs}. Written {stamp}.</p>"]
    body.append(_verdict_html(found))
    body.append(
        "<nav><ul>"
        + "".join(
            f'<li><a href="#s{i}">{html.escape(s.title)}</a></li>' for i, s in enumerate(sections)
        )
        + "</ul></nav>"
    )
    for i, section in enumerate(sections):
        body.append(f'<h2 id="s{i}">{html.escape(section.title)}</h2>')
        body.append(f"<p>{html.escape(section.intro)}</p>")
        for fig in section.figures:
            data = base64.b64encode(fig.read_bytes()).decode("ascii")
            body.append(f'<img alt="{html.escape(fig.stem)}" src="data:image/png;base64,{data}">')
        body += [_table_html(t) for t in section.tables]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>iterdeploy report</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _verdict_html(found: Verdict) -> str:
    flags = "".join(f'<p class="flag">&#9888; {html.escape(f)}</p>' for f in found.flags)
    items = []
    for line in found.lines:
        text = html.escape(line.strip())
        items.append(f"<li>{text}</li>" if line.startswith("  ") else f"</ul><p>{text}</p><ul>")
    names = [name for name, _ in found.settings[0][1]] if found.settings else []
    head = "".join(f"<th>{html.escape(run_id)}</th>" for run_id, _ in found.settings)
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th>"
        + "".join(f"<td>{html.escape(dict(pairs)[name])}</td>" for _, pairs in found.settings)
        + "</tr>"
        for name in names
    )
    settings = f'<table class="settings"><tr><th>setting</th>{head}</tr>{rows}</table>'
    listing = f"<ul>{''.join(items)}</ul>".replace("<ul></ul>", "")
    return (
        f'<section class="verdict" id="verdict"><h2>Verdict</h2>{flags}{listing}{settings}'
        "</section>"
    )


def _table_html(table: Table) -> str:
    formats = _column_formats(table)
    head = "".join(f"<th>{html.escape(header(c))}</th>" for c in table.columns)
    rows = []
    for row in table.rows[:MAX_HTML_ROWS]:
        cells = "".join(_cell(v, f) for v, f in zip(row, formats, strict=True))
        rows.append(f"<tr>{cells}</tr>")
    more = len(table.rows) - MAX_HTML_ROWS
    extra = f'<p class="note">{more} more rows in tables/{table.name}.csv</p>' if more > 0 else ""
    note = f'<p class="note">{html.escape(table.note)}</p>' if table.note else ""
    empty = '<p class="note">(no rows)</p>' if not table.rows else ""
    body = f"<table><tr>{head}</tr>{''.join(rows)}</table>{empty}{extra}"
    title = html.escape(table.title)
    if len(table.rows) > OPEN_ROWS:
        return (
            f'<details id="{html.escape(table.name)}"><summary>{title} ({len(table.rows)} rows; '
            f"click to show)</summary>{note}{body}</details>"
        )
    return f'<h3 id="{html.escape(table.name)}">{title}</h3>{note}{body}'


def header(column: str) -> str:
    """Return a column name as a table header.

    >>> header("relative_increase_pct"), header("unanimous@k")
    ('Relative increase (%)', 'Unanimous@k')
    """
    text = column.replace("_", " ")
    if text.endswith(" pct"):
        text = text[: -len(" pct")] + " (%)"
    return text[:1].upper() + text[1:]


def _column_formats(table: Table) -> list[str | None]:
    """Return one float format per column, so a column's numbers share their decimals."""
    formats: list[str | None] = []
    for i in range(len(table.columns)):
        floats = [abs(r[i]) for r in table.rows if isinstance(r[i], float)]
        if not floats:
            formats.append(None)
        elif all(v == int(v) for v in floats):
            formats.append(".0f")
        else:
            top = max(floats)
            formats.append(".3f" if top < 1 else ".2f" if top < 100 else ".1f")
    return formats


def _cell(value: object, fmt: str | None) -> str:
    if value is None:
        return "<td>-</td>"
    if isinstance(value, float) and fmt is not None:
        return f"<td>{value:{fmt}}</td>"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"<td>{value}</td>"
    return f'<td class="text">{html.escape(str(value))}</td>'
