from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess

import pytest
from PIL import Image

from iterdeploy.analysis.report import header, write_report
from iterdeploy.cli import main
from iterdeploy.loop.gate import GateConfig

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Appended to a copy of the page: once it has loaded, unfold every folded table and record
# what a reader would check: images decoded and shown at a readable width, any table running
# past the right edge of the window, and where the verdict box sits.
PROBE = """<script>window.addEventListener('load', () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const shown = [...document.images].filter(i => i.complete && i.naturalWidth > 0
    && i.getBoundingClientRect().width >= 400).length;
  const width = document.documentElement.clientWidth;
  const cut = [...document.querySelectorAll('table')]
    .filter(t => t.getBoundingClientRect().right > width + 1).length;
  const box = document.getElementById('verdict').getBoundingClientRect();
  const b = document.body;
  b.setAttribute('data-images-ok', shown + '/' + document.images.length);
  b.setAttribute('data-tables-cut', String(cut));
  b.setAttribute('data-tables', String(document.querySelectorAll('table').length));
  b.setAttribute('data-verdict-top', String(Math.round(box.top)));
  b.setAttribute('data-page-wider', String(document.documentElement.scrollWidth > width));
});</script>"""
VERDICT_FILL = (255, 246, 214)  # section.verdict background, #fff6d6
FLAG_FILL = (198, 40, 40)  # p.flag background, #c62828


@pytest.fixture(scope="module")
def report(run_folders, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return write_report([run_folders["paper"], run_folders["none"]], out)


def test_report_writes_html_figures_and_tables(report):
    assert report.html.is_file()
    assert {p.name for p in report.figures} == {
        "solved.png",
        "curation.png",
        "plan_lengths.png",
        "length_ratio.png",
        "reasoning_tokens.png",
        "domains.png",
        "training_loss.png",
    }
    for png in report.figures:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    names = {p.name for p in report.tables}
    for stem in (
        "solved_pool",
        "solved_heldout",
        "headline_heldout",
        "ablation_pool",
        "gate",
        "loop_deployments",
        "training",
        "regressions",
        "audit_selection_paper",
        "audit_blind_spots_none",
        "paper_table_pool",
        "paper_table_heldout",
    ):
        assert f"{stem}.csv" in names and f"{stem}.json" in names
    titles = [s.title for s in report.sections]
    assert titles.index("Held-out tasks") == titles.index("Pool tasks") + 1
    assert titles.index("Per domain") == titles.index("Held-out tasks") + 1
    assert "Reward audit: paper" in titles and "Reward audit: none" in titles


def test_report_tables_hold_the_store_numbers(report, run_folders, sql):
    path = next(p for p in report.tables if p.name == "solved_heldout.csv")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    row = next(r for r in rows if r["policy"] == "none" and r["generation"] == "2")
    counts = [
        sql(
            run_folders["none"],
            "SELECT COUNT(DISTINCT tr.task_id) AS n FROM traces tr JOIN tasks t USING (task_id) "
            "WHERE tr.run = ? AND tr.generation = 2 AND tr.valid = 1 AND t.split = 'heldout'",
            (run,),
        )[0]["n"]
        for run in (0, 1)
    ]
    assert float(row["mean"]) == sum(counts) / 2
    data = json.loads(next(p for p in report.tables if p.name == "solved_heldout.json").read_text())
    assert data["rows"][0]["policy"] == "paper"


def test_report_plots_and_lists_the_training_losses_of_the_store(report, run_folders, sql):
    assert report.html.parent.joinpath("training_loss.png") in report.figures
    section = next(s for s in report.sections if s.title == "Training")
    assert [f.name for f in section.figures] == ["training_loss.png"]
    rows = {(r["run_id"], r["run"], r["generation"]): r for r in section.tables[0].records()}
    for policy, folder in run_folders.items():
        for m in sql(folder, "SELECT run, generation, losses FROM models WHERE kind != 'base'"):
            losses = json.loads(m["losses"])
            row = rows[(folder.name, m["run"], m["generation"])]
            assert row["policy"] == policy
            assert (row["first_loss"], row["last_loss"]) == (losses[0][1], losses[-1][1])
    assert len(rows) == 8  # 2 folders x 2 runs x generations 1 and 2, all trained


def test_report_shows_the_model_the_loop_deployed_each_generation(report):
    section = next(s for s in report.sections if s.title == "Release gate")
    rows = section.tables[0].records()
    assert section.tables[0].name == "loop_deployments" and len(rows) == 12
    # These runs use loop.deploy = "newest": each generation samples its pool itself.
    assert all(r["pool_sampled_by"] == r["generation"] and r["gate"] == "-" for r in rows)


def test_report_html_is_self_contained(report):
    page = report.html.read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 7
    assert '<img alt="training_loss" src="data:image/png;base64,' in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page
    assert "Validator blind spot" in page and "Implicit reward" in page


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "needs Debian chromium: apt-get install -y chromium"
    result = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_report_in_headless_chromium_shows_verdict_plots_and_whole_tables(report, tmp_path):
    page = tmp_path / "probe.html"
    page.write_text(report.html.read_text(encoding="utf-8") + PROBE, encoding="utf-8")
    dom = chromium(
        tmp_path, "--window-size=1400,1000", "--virtual-time-budget=5000", "--dump-dom",
        page.as_uri(),
    ).stdout  # fmt: skip
    assert 'data-images-ok="7/7"' in dom  # every plot decoded and at least 400 px wide
    assert 'data-tables-cut="0"' in dom and 'data-page-wider="false"' in dom
    assert int(re.search(r'data-tables="(\d+)"', dom).group(1)) > 20
    assert 0 < int(re.search(r'data-verdict-top="(-?\d+)"', dom).group(1)) < 200
    # The screenshot a person opening the report sees first: the verdict box, flags in red.
    shot = tmp_path / "top.png"
    chromium(tmp_path, "--window-size=1400,900", "--hide-scrollbars", f"--screenshot={shot}",
             report.html.as_uri())  # fmt: skip
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 900)
    colors = image.getcolors(maxcolors=1 << 20)
    area = {color: n for n, color in colors}
    assert area.get(VERDICT_FILL, 0) > 0.15 * 1400 * 900  # a box, not a stray pixel
    assert (area.get(FLAG_FILL, 0) > 0) == bool(report.verdict.flags)


def test_verdict_states_changes_gate_status_and_settings(report, run_folders):
    text = report.verdict.text()
    heads = {t.name: t for s in report.sections for t in s.tables}
    for split, name in (("pool", "pool"), ("heldout", "held-out")):
        for row in heads[f"headline_{split}"].records():
            base, final = row["base_mean"], row["final_mean"]
            assert f"{name}: {base:.1f} -> {final:.1f} of {row['tasks']} tasks" in text
    assert "distinct problems" in text and "runs " in text  # spread over the 2 runs
    gate = next(t for t in heads.values() if t.name == "gate").records()
    failed = {
        (r["run_id"], r["run"]) for r in gate if r["candidate"] == r["deployed_now"]
        and r["gate"] == "fail"
    }  # fmt: skip
    assert {(f.split(" run ")[0], int(f.split(" run ")[1].split(":")[0])) for f in
            report.verdict.flags} == failed  # fmt: skip
    for _, settings in report.verdict.settings:
        values = dict(settings)
        assert values["samples per task"].startswith("3 ")
        assert "learning rate 0.001, 1 epochs" in values["training"]
        assert values["pool"].startswith("blocksworld: 24 tasks per domain, 25% held out")
    page = report.html.read_text()
    assert page.index('id="verdict"') < page.index('id="s0"')


def test_verdict_ends_iterdeploy_run(paper_copy, capsys):
    assert main(["resume", str(paper_copy)]) == 0  # a finished run: prints what run prints
    out = capsys.readouterr().out
    verdict = out[out.index("Verdict") :]
    assert "pool: " in verdict and "held-out: " in verdict and "release gate of paper" in verdict
    assert "settings of paper:" in verdict and out.rstrip().endswith(f"run folder: {paper_copy}")
    table = out[out.index("Per domain") : out.index("Verdict")]  # the paper's table
    assert "blocksworld (paper, 2 runs): 18 pool tasks, 6 held out" in table
    lines = table.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("gen "))
    assert [line.split()[0] for line in lines[header + 1 : header + 4]] == ["0", "1", "2"]


def test_report_overlays_folders_of_one_policy_by_seed(run_folders, tmp_path):
    both = write_report([run_folders["paper"], run_folders["paper"]], tmp_path,
                        GateConfig(split="pool"))  # fmt: skip
    assert [g for g in both.verdict.lines if not g.startswith(" ")][:2] == [
        "paper, seed 0 (4 runs), base model -> generation 2:",
        "release gate of paper on pool tasks (max drop 0, max group drop 0.1):",
    ]


def test_html_tables_share_decimals_per_column_and_fold_long_lists(report):
    page = report.html.read_text()
    assert "<th>Relative increase (%)</th>" in page and "relative_increase_pct" not in page
    row = re.search(r"<tr><td class=\"text\">paper</td><td>0</td><td>2</td>.*?</tr>", page)
    cells = re.findall(r"<td>([0-9.]+)</td>", row.group(0))
    rate = cells[-4]  # the rate column: three decimals, as every rate in it
    assert re.fullmatch(r"0\.\d{3}", rate)
    assert '<details id="regressions_list"><summary>' in page
    assert header("mean_plan_length") == "Mean plan length"
