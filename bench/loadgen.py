"""Drives HTTP load: wrk with a Lua script when available (C, one thread, leaves the cores to
the servers), else :mod:`bench.aioload` in a separate process. Both print one ``BENCHJSON`` line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


def ensure_wrk() -> str | None:
    """The wrk binary; installs Debian's package when missing and running as root."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"],
        env=env,
        capture_output=True,
        check=False,
    )
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"],
            env=env,
            capture_output=True,
            check=False,
        )
    return shutil.which("wrk")


@dataclass(frozen=True)
class RunResult:
    label: str
    concurrency: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    mix: dict[str, int]
    pace_ms: float = 0.0
    tool: str = "wrk"
    error_kinds: dict[str, int] | None = None

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _parse(label: str, concurrency: int, pace_ms: float, tool: str, out: str) -> RunResult:
    line = next((x for x in out.splitlines() if x.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"{label}: load generator printed no summary:\n{out[-2000:]}")
    raw = json.loads(line.removeprefix("BENCHJSON "))
    duration = raw["duration_us"] / 1e6
    errors = raw["status_4xx_5xx"] + raw["connect_errors"] + raw["read_errors"]
    errors += raw["write_errors"] + raw["timeouts"]
    return RunResult(
        label=label,
        concurrency=concurrency,
        duration_s=round(duration, 2),
        requests=raw["requests"],
        rps=round(raw["requests"] / duration, 1) if duration else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p95_ms=raw["p95_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors=errors,
        mix={"feed": raw["feed"], "posts": raw["posts"], "create": raw["create"]},
        pace_ms=pace_ms,
        tool=tool,
        error_kinds={
            kind: raw[kind]
            for kind in (
                "status_4xx_5xx",
                "connect_errors",
                "read_errors",
                "write_errors",
                "timeouts",
            )
        },
    )


def think_time_ms(concurrency: int, target_rps: float, latency_ms: float) -> float:
    """Mean think time that makes ``concurrency`` closed-loop connections send ``target_rps``:
    each sends one request per think time plus latency."""
    return max(1.0, concurrency * 1000 / target_rps - latency_ms)


def observed_latency_ms(concurrency: int, pace_ms: float, rps: float) -> float:
    """The mean latency a paced run implies (the inverse of :func:`think_time_ms`)."""
    return max(0.0, concurrency * 1000 / rps - pace_ms) if rps else 0.0


def next_pace_ms(concurrency: int, target_rps: float, tried: list[tuple[float, float]]) -> float:
    """The think time to try after runs ``tried`` (pace, req/s), oldest first, missed
    ``target_rps``.

    After one run: the think time that run's latency implies. After two or more: the secant
    through the last two, since the latency itself grows with the rate, so the latency
    estimate alone keeps landing on the same side of the target. Falls back to the latency
    estimate when the last two runs do not bracket a slope the right way (noise).
    """
    pace, rps = tried[-1]
    estimate = think_time_ms(concurrency, target_rps, observed_latency_ms(concurrency, pace, rps))
    if len(tried) < 2:
        return estimate
    (p0, r0), (p1, r1) = tried[-2], tried[-1]
    if p1 == p0 or (r1 - r0) / (p1 - p0) >= 0:  # a longer think time must mean fewer requests
        return estimate
    return max(1.0, p1 - (r1 - target_rps) * (p1 - p0) / (r1 - r0))


def run(
    label: str,
    url: str,
    *,
    concurrency: int,
    duration: float,
    users_file: Path | None = None,
    shares: tuple[float, float] = (0.8, 0.15),
    pace_ms: float = 0.0,
    wrk: str | None = None,
) -> RunResult:
    """One load run against ``url``: the Feedline mix when ``users_file`` is given, else a GET."""
    seconds = max(1, round(duration))
    timeout = seconds + 60
    if wrk:
        args = [wrk, "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s"]
        args += ["-s", str(HERE / "mix.lua"), url, "--", str(users_file or "-")]
        args += [str(shares[0]), str(shares[1]), str(pace_ms)]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        return _parse(label, concurrency, pace_ms, "wrk", proc.stdout + proc.stderr)
    args = [sys.executable, "-m", "bench.aioload", url, "--concurrency", str(concurrency)]
    args += ["--duration", str(seconds), "--pace-ms", str(pace_ms)]
    if users_file is not None:
        args += ["--users-file", str(users_file), "--shares", f"{shares[0]},{shares[1]}"]
    proc = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=HERE.parent,
    )
    return _parse(label, concurrency, pace_ms, "aiohttp", proc.stdout + proc.stderr)
