"""CPU time each process spends per request during a load run, read from /proc.

The machine is shared, so wall-clock throughput alone does not say which process bounds it;
CPU milliseconds per request do, and they add up to the cost of one request across processes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` so far; None when it is gone or unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces) start at field 3; utime and stime
    # are fields 14 and 15.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class CpuMeter:
    def __init__(self, pids: Mapping[str, int | None]) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self._start: dict[str, float] = {}

    def start(self) -> None:
        self._start = {
            name: value
            for name, pid in self.pids.items()
            if (value := cpu_seconds(pid)) is not None
        }

    def per_request_ms(self, requests: int) -> dict[str, float]:
        """CPU milliseconds per request of each process since :meth:`start`."""
        if requests <= 0:
            return {}
        used: dict[str, float] = {}
        for name, before in self._start.items():
            after = cpu_seconds(self.pids[name])
            if after is not None:
                used[name] = round((after - before) * 1000 / requests, 3)
        return used
