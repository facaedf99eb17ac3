"""The one progress bar of the command line: ``[####....] done/total label`` on stderr."""

from __future__ import annotations

import sys
from typing import TextIO


class ProgressBar:
    """Redrawn in place with ``\\r`` on a terminal; off a terminal silent, or one line per update
    with ``log=True`` (a long run's trace in a CI log). ``close()`` wipes the bar.

    Call ``step(label)`` after each of ``total`` items, or use the bar as a callback
    ``bar(label, done, total)``.
    """

    def __init__(self, total: int = 0, stream: TextIO | None = None, width: int = 30, prefix: str = "", log: bool = False):
        self.stream = stream if stream is not None else sys.stderr  # looked up now, not at import
        self.total = total
        self.width = width
        self.prefix = prefix
        self.log = log
        self.done = 0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._drawn = 0  # length of the longest line drawn, to wipe it

    def update(self, done: int, label: str, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        if not (self.tty or self.log):
            return
        filled = self.width * done // max(self.total, 1)
        line = f"{self.prefix}[{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total} {label}"
        if self.tty:
            self.stream.write("\r" + line.ljust(self._drawn))
            self._drawn = max(self._drawn, len(line))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def step(self, label: str) -> None:
        self.update(self.done + 1, label)

    def __call__(self, label: str, done: int, total: int) -> None:
        self.update(done, label, total)

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0
