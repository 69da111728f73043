"""A plain stderr progress bar (no dependency), redrawn at most ten times a second."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, total: int, width: int = 30) -> None:
        self.label = label
        self.total = max(total, 1)
        self.width = width
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._drawn >= 0.1 or self.done >= self.total:
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        share = min(self.done / self.total, 1.0)
        filled = int(share * self.width)
        rate = self.done / max(now - self.started, 1e-9)
        bar = "#" * filled + "." * (self.width - filled)
        sys.stderr.write(
            f"\r  {self.label:<22} [{bar}] {self.done:>9,}/{self.total:,} {rate:>10,.0f}/s"
        )
        sys.stderr.flush()

    def close(self) -> None:
        self._draw(time.monotonic())
        sys.stderr.write("\n")
        sys.stderr.flush()
