"""CPU time each process spends per request during a load run, read from /proc, and the time
its threads spent runnable but waiting for a CPU (the scheduler's run delay).

The machine is shared, so wall-clock throughput alone does not say which process bounds it;
CPU milliseconds per request do, and they add up to the cost of one request across processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
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


def run_delay_seconds(pid: int) -> float | None:
    """Time the threads of ``pid`` have spent waiting on a run queue (``schedstat``'s second
    field, summed over its threads); None when it is gone or the kernel keeps no schedstat."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue  # a thread that ended meanwhile
    except OSError:
        return None
    return total / 1e9


class ProcessMeter:
    """A per-process figure read from /proc (``read``: CPU seconds by default, or
    :func:`run_delay_seconds`), per request between :meth:`start` and :meth:`per_request_ms`."""

    def __init__(
        self,
        pids: Mapping[str, int | None],
        read: Callable[[int], float | None] = cpu_seconds,
    ) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self.read = read
        self._start: dict[str, float] = {}

    def start(self) -> None:
        self._start = {
            name: value for name, pid in self.pids.items() if (value := self.read(pid)) is not None
        }

    def per_request_ms(self, requests: int) -> dict[str, float]:
        """Milliseconds per request of each process since :meth:`start`."""
        if requests <= 0:
            return {}
        used: dict[str, float] = {}
        for name, before in self._start.items():
            after = self.read(self.pids[name])
            if after is not None:
                used[name] = round((after - before) * 1000 / requests, 3)
        return used


def machine_ticks(stat: Path = Path("/proc/stat")) -> tuple[int, int] | None:
    """(steal, total) CPU ticks of the whole machine so far, from the first line of /proc/stat
    (user nice system idle iowait irq softirq steal); None where the kernel reports no steal."""
    try:
        fields = stat.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    ticks = [int(value) for value in fields[1:9]]
    return ticks[7], sum(ticks)


class StealMeter:
    """The share of the machine's CPU time the hypervisor gave to other guests between
    :meth:`start` and :meth:`share`: on a shared host, runs with more of it are slower for
    reasons the code under test does not have."""

    def __init__(self, read: Callable[[], tuple[int, int] | None] = machine_ticks) -> None:
        self.read = read
        self._start: tuple[int, int] | None = None

    def start(self) -> None:
        self._start = self.read()

    def share(self) -> float | None:
        now = self.read()
        if self._start is None or now is None or now[1] <= self._start[1]:
            return None
        return round((now[0] - self._start[0]) / (now[1] - self._start[1]), 4)
