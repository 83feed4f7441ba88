"""Progress of a long stage: a tqdm bar on a terminal, periodic log lines elsewhere.

Under CI, nohup or Slurm stderr is not a terminal and a bar would be hidden (or fill the log
with carriage returns), so the stage logs a line with its rate and ETA instead, at most one
every `interval` seconds.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

log = logging.getLogger(__name__)

INTERVAL = 10.0  # seconds between progress lines when there is no terminal


class Progress:
    """Count finished units of a stage and show it as a bar or as periodic lines."""

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str,
        *,
        interval: float = INTERVAL,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.interval, self.clock = interval, clock
        self.done = 0
        self.start = self.last = clock()
        stream = stream if stream is not None else sys.stderr
        is_tty = hasattr(stream, "isatty") and stream.isatty()
        self.bar = (
            tqdm(total=total, desc=desc, unit=unit, leave=False, file=stream) if is_tty else None
        )

    def update(self, n: int) -> None:
        """Add `n` finished units; log a line if `interval` seconds passed since the last."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            log.info("%s", self.line(now))

    def line(self, now: float) -> str:
        """Return the progress line: done/total, share, rate and ETA."""
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        left = self.total - self.done
        eta = _clock_text(left / rate) if rate > 0 else "unknown"
        share = 100 * self.done / self.total if self.total else 100.0
        return (
            f"{self.desc}: {self.done}/{self.total} {self.unit}s ({share:.0f}%), "
            f"{rate:.2f} {self.unit}s/s, ETA {eta}"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _clock_text(seconds: float) -> str:
    """Return seconds as H:MM:SS.

    >>> _clock_text(3725.4)
    '1:02:05'
    """
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
