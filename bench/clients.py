"""Async HTTP helpers of the benchmark: logging bench users in, first reads, metrics scrapes."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence

import aiohttp

from bench.progress import Progress

METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([0-9.eE+-]+|NaN)$")


async def bounded(concurrency: int, jobs: Sequence[object], call, label: str) -> list[object]:
    """Runs ``call(job)`` for every job with at most ``concurrency`` in flight, with a bar."""
    progress = Progress(label, len(jobs))
    results: list[object] = [None] * len(jobs)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(jobs)):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            results[index] = await call(jobs[index])
            progress.advance(1)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    progress.close()
    return results


async def login_all(
    gateway: str, usernames: Sequence[str], password: str, concurrency: int = 8
) -> list[str]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def login(username: object) -> str:
            body = {"username": username, "password": password}
            async with session.post(f"{gateway}/api/v1/auth/token", json=body) as response:
                if response.status != 200:
                    raise RuntimeError(
                        f"login {username}: {response.status} {await response.text()}"
                    )
                return (await response.json())["access_token"]

        return [str(t) for t in await bounded(concurrency, usernames, login, "log in (gateway)")]


async def first_reads(
    url: str, headers_list: Sequence[dict[str, str]], label: str, concurrency: int = 8
) -> tuple[list[float], list[int]]:
    """One GET per header set; returns latencies (s) and body sizes. Raises on any non-200."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def read(headers: object) -> tuple[float, int]:
            started = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"GET {url}: {response.status} {body[:300]!r}")
            return time.perf_counter() - started, len(body)

        results = await bounded(concurrency, headers_list, read, label)
    return [r[0] for r in results], [r[1] for r in results]  # type: ignore[index]


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text as ``{"name{labels}": value}``."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = METRIC_LINE.match(line.strip())
        if match:
            values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return values


async def scrape(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    async with session.get(url) as response:
        return parse_metrics(await response.text())
