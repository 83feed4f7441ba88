"""`iterdeploy report`: one self-contained report.html, PNG plots and CSV/JSON tables.

The HTML embeds its images as base64 data URIs and its style inline, so it opens from disk
with no network. Tables go to `<out>/tables/<name>.csv` and `.json` (the HTML shows at most
`MAX_HTML_ROWS` rows of a table; the files hold all of them).
"""

from __future__ import annotations

import base64
import csv
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
from iterdeploy.analysis.governance import GateConfig, gate_table, loop_deployments_table
from iterdeploy.analysis.metrics import Group, Table
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

    def summary(self) -> str:
        """Return the headline tables (base vs final generation, pool and held-out) as text."""
        heads = [t for s in self.sections for t in s.tables if t.name.startswith("headline_")]
        return "\n\n".join(metrics.format_table(t) for t in heads)


def write_report(
    folders: Sequence[str | Path],
    out: str | Path,
    gate: GateConfig | None = None,
    long_ratio: float = LONG_RATIO,
) -> Report:
    """Write the report of the run folders `folders` into `out` and return what it wrote."""
    out = Path(out)
    datas = [load_run(f) for f in folders]
    groups = metrics.group_runs(datas)
    has_heldout = any(d.split_tasks("heldout") for d in datas)
    if gate is None:
        gate = GateConfig(split="heldout" if has_heldout else "pool")
    figures = _figures(groups, out)
    sections = _sections(datas, groups, figures, gate, long_ratio, has_heldout)
    table_files = _write_tables([t for s in sections for t in s.tables], out / "tables")
    page = out / "report.html"
    page.write_text(render_html(sections, datas), encoding="utf-8")
    log.info("report: %s (%d tables, %d figures)", page, len(table_files) // 2, len(figures))
    return Report(page, tuple(table_files), tuple(figures.values()), tuple(sections))


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
            "The tasks the models are deployed on and curated from (the paper's only split).",
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
    ablation = metrics.ablation(groups, "pool")
    sections += [
        Section(
            "Curation, plan lengths and reasoning tokens",
            "What each generation was trained on, and how its solved plans and reasoning grew.",
            tuple(
                t
                for t in (metrics.curated_sizes(groups), ablation, metrics.plan_and_tokens(groups))
                if t is not None
            ),
            (figures["plan_lengths"], figures["length_ratio"], figures["reasoning_tokens"]),
        ),
        Section(
            "Regression monitor",
            "Tasks solved by generation n-1 and no longer by generation n.",
            (summary, lost),
        ),
        Section(
            "Training",
            "The fine-tuning loss of each generation's model (trained from the base model on "
            "its curated set), per logged optimizer step; dashed: validation loss.",
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
    return sections


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

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1em; margin-bottom: 0.3em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: right; }
th { background: #f3f3f3; } td.text { text-align: left; }
p.note { color: #555; font-size: 0.85em; margin: 0; }
img { max-width: 100%; margin: 0.5em 0; border: 1px solid #eee; }
"""


def render_html(sections: Sequence[Section], datas: Sequence[RunData]) -> str:
    """Return the whole report page (inline style, images as data URIs)."""
    runs = ", ".join(
        f"{html.escape(d.run_id)} ({html.escape(d.policy)}, {len(d.runs)} runs)" for d in datas
    )
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    body = [f"<h1>iterdeploy report</h1><p>Run folders: {runs}. Written {stamp}.</p>"]
    body.append(
        "<ul>"
        + "".join(
            f'<li><a href="#s{i}">{html.escape(s.title)}</a></li>' for i, s in enumerate(sections)
        )
        + "</ul>"
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


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    rows = []
    for row in table.rows[:MAX_HTML_ROWS]:
        cells = "".join(_cell(v) for v in row)
        rows.append(f"<tr>{cells}</tr>")
    more = len(table.rows) - MAX_HTML_ROWS
    extra = f'<p class="note">{more} more rows in tables/{table.name}.csv</p>' if more > 0 else ""
    note = f'<p class="note">{html.escape(table.note)}</p>' if table.note else ""
    empty = '<p class="note">(no rows)</p>' if not table.rows else ""
    return (
        f'<h3 id="{html.escape(table.name)}">{html.escape(table.title)}</h3>{note}'
        f"<table><tr>{head}</tr>{''.join(rows)}</table>{empty}{extra}"
    )


def _cell(value: object) -> str:
    if value is None:
        return "<td>-</td>"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"<td>{value:g}</td>" if isinstance(value, float) else f"<td>{value}</td>"
    return f'<td class="text">{html.escape(str(value))}</td>'
