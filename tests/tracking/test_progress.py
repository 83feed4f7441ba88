"""Progress without a terminal: log lines at most every 10 s, with the rate and the ETA."""

from __future__ import annotations

import io
import logging

from iterdeploy.tracking.progress import Progress


class Clock:
    """A clock the test advances by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_logs_a_line_at_most_every_ten_seconds_with_rate_and_eta(caplog):
    clock, stream = Clock(), io.StringIO()  # a StringIO is not a terminal, as under nohup
    progress = Progress(600, "run 0 gen 1 deploy", "trace", stream=stream, clock=clock)
    with caplog.at_level(logging.INFO, logger="iterdeploy.tracking.progress"):
        for _ in range(60):  # 60 chunks of 10 traces, one every 2.5 s: 150 s in all
            clock.now += 2.5
            progress.update(10)
    progress.close()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 15  # 150 s / 10 s
    assert lines[0] == "run 0 gen 1 deploy: 40/600 traces (7%), 4.00 traces/s, ETA 0:02:20"
    assert lines[-1].startswith("run 0 gen 1 deploy: 600/600 traces (100%)")
    assert stream.getvalue() == ""  # no bar, no carriage returns in the log


def test_progress_draws_a_bar_on_a_terminal(caplog):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    clock, stream = Clock(), Terminal()
    progress = Progress(10, "deploy", "trace", stream=stream, clock=clock)
    with caplog.at_level(logging.INFO, logger="iterdeploy.tracking.progress"):
        clock.now += 60
        progress.update(10)
    progress.close()
    assert not caplog.records  # the bar shows it instead
    assert stream.getvalue().startswith("\rdeploy:   0%|") and "trace/s" in stream.getvalue()
