from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess

import pytest

from iterdeploy.analysis.report import write_report

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Appended to a copy of the page: records how many images decoded once the page has loaded.
PROBE = (
    "<script>window.addEventListener('load', () => { const ok = [...document.images]"
    ".filter(i => i.complete && i.naturalWidth > 0).length; document.body.setAttribute("
    "'data-images-ok', ok + '/' + document.images.length); });</script>"
)


@pytest.fixture(scope="module")
def report(run_folders, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return write_report([run_folders["paper"], run_folders["none"]], out)


def test_report_writes_html_figures_and_tables(report):
    assert report.html.is_file()
    assert {p.name for p in report.figures} == {
        "solved.png",
        "plan_lengths.png",
        "length_ratio.png",
        "reasoning_tokens.png",
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
    ):
        assert f"{stem}.csv" in names and f"{stem}.json" in names
    titles = [s.title for s in report.sections]
    assert titles.index("Held-out tasks") == titles.index("Pool tasks") + 1
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
    assert page.count('src="data:image/png;base64,') == 5
    assert '<img alt="training_loss" src="data:image/png;base64,' in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page
    assert "Validator blind spot" in page and "Implicit reward" in page


def test_report_loads_in_headless_chromium_with_images_rendered(report, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "needs Debian chromium: apt-get install -y chromium"
    page = tmp_path / "probe.html"
    page.write_text(report.html.read_text(encoding="utf-8") + PROBE, encoding="utf-8")
    result = subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'data-images-ok="5/5"' in result.stdout
    assert "iterdeploy report" in result.stdout
