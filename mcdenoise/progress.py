"""Progress that both a person at a terminal and a farm log can read.

On a terminal: a tqdm bar, with messages printed above it. Without one (a farm manager's task
log, a file, a pipe): no bar, which would be a stream of carriage returns, but one plain line
per finished item with the count, the elapsed time and an estimate of the time left::

    denoise: 3 of 10 frames (30%), elapsed 0:00:04, ETA 0:00:09: shot.1003.exr

Lines are flushed at once, so a log shows them as they happen.
"""
from __future__ import annotations

import sys
import time
from datetime import timedelta
from typing import TextIO


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


class Progress:
    """``total`` items of ``unit`` under the name ``desc``. ``interactive`` None: a bar when
    ``stream`` is a terminal."""

    def __init__(self, total: int, unit: str, desc: str, stream: TextIO | None = None,
                 interactive: bool | None = None) -> None:
        self.total, self.unit, self.desc, self.done = total, unit, desc, 0
        self.stream = stream or sys.stderr
        self.began = time.monotonic()
        if interactive is None:
            interactive = self.stream.isatty()
        self.bar = None
        if interactive:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, desc=desc, file=self.stream,
                            dynamic_ncols=True)

    def message(self, text: str) -> None:
        """A line for the log (above the bar on a terminal)."""
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def advance(self, label: str = "") -> None:
        """One more item finished (``label`` names it in the plain line)."""
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            return
        elapsed = time.monotonic() - self.began
        left = elapsed / self.done * (self.total - self.done)
        share = f" ({100 * self.done // self.total}%)" if self.total else ""
        self.message(f"{self.desc}: {self.done} of {self.total} {self.unit}s{share}, "
                     f"elapsed {_clock(elapsed)}, ETA {_clock(left)}"
                     + (f": {label}" if label else ""))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
