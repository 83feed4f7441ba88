"""kill -9 at several stages, resume: the store ends with an uninterrupted run's digests."""

from __future__ import annotations

from loop_helpers import fake_preset, kill_when, start_cli

from iterdeploy.config import load_config
from iterdeploy.loop.orchestrator import start_run
from iterdeploy.loop.store import Store

# Each kill point is a store condition; the run is SIGKILLed as soon as it holds.
KILL_POINTS = [
    # mid-deployment of generation 0: the first chunk is committed, later ones are not
    "SELECT COUNT(*) FROM stages WHERE generation = 0 AND stage = 'deploy' AND chunk = 0",
    # during training of generation 1: its curated set is committed, its model is not
    "SELECT COUNT(*) FROM stages WHERE generation = 1 AND stage = 'curate'",
    # mid-deployment of generation 1, after its model was trained
    "SELECT COUNT(*) FROM stages WHERE generation = 1 AND stage = 'train'",
    # during training of generation 2
    "SELECT COUNT(*) FROM stages WHERE generation = 2 AND stage = 'curate'",
]


def test_kill_9_at_several_stages_then_resume_matches_an_uninterrupted_run(
    tmp_path, cache, test_model
):
    preset = fake_preset(tmp_path / "p.toml", test_model)
    reference = start_run(load_config(preset), tmp_path / "reference")
    folder = tmp_path / "killed"
    log = tmp_path / "log.txt"
    proc = start_cli(["run", "--preset", str(preset), "--out", str(folder)], log)
    kill_when(proc, folder / "store.sqlite", KILL_POINTS[0])
    for point in KILL_POINTS[1:]:
        proc = start_cli(["resume", str(folder)], log)
        kill_when(proc, folder / "store.sqlite", point)
        assert not (folder / "summary.json").exists()
    proc = start_cli(["run", "--resume", str(folder)], log)
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    assert "run folder:" in log.read_text()
    with Store(reference / "store.sqlite") as a, Store(folder / "store.sqlite") as b:
        assert b.digests() == a.digests()
        markers = "SELECT run, generation, stage, chunk FROM stages ORDER BY 1, 2, 3, 4"
        assert [tuple(r) for r in b.query(markers)] == [tuple(r) for r in a.query(markers)]
    assert (folder / "summary.json").read_text() == (
        reference / "summary.json"
    ).read_text().replace(reference.name, folder.name)
