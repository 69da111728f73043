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


class ReadsFailed(RuntimeError):
    pass


async def first_reads(
    url: str,
    headers_list: Sequence[dict[str, str]],
    label: str,
    concurrency: int = 8,
    attempts: int = 3,
) -> tuple[list[float], list[int]]:
    """One GET per header set; returns latencies (s) and body sizes of the successful ones.

    A 5xx (a dependency timing out on a busy machine) is retried up to ``attempts`` times with
    back-off; more than 1 % of reads failing for good raises :class:`ReadsFailed`.
    """
    failures: list[str] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def read(headers: object) -> tuple[float, int] | None:
            for attempt in range(attempts):
                started = time.perf_counter()
                async with session.get(url, headers=headers) as response:
                    body = await response.read()
                    if response.status == 200:
                        return time.perf_counter() - started, len(body)
                    if response.status < 500 or attempt == attempts - 1:
                        failures.append(f"{response.status} {body[:200]!r}")
                        return None
                await asyncio.sleep(0.5 * 2**attempt)
            return None

        results = [r for r in await bounded(concurrency, headers_list, read, label) if r]
    if len(failures) > max(1, len(headers_list) // 100):
        raise ReadsFailed(f"GET {url}: {len(failures)} failed, e.g. {failures[0]}")
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


def scrape_once(url: str) -> dict[str, float]:
    """One scrape from outside an event loop."""

    async def fetch() -> dict[str, float]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            return await scrape(session, url)

    return asyncio.run(fetch())


LABEL = re.compile(r'(\w+)="([^"]*)"')
LATENCY_BUCKET = "feedline_http_request_duration_seconds_bucket"


def share_slower_than(
    before: dict[str, float], after: dict[str, float], route: str, bound_seconds: float
) -> float | None:
    """The share of ``route``'s requests, between two scrapes of one process, that its own
    latency histogram puts above ``bound_seconds`` (a bucket bound); None without requests."""
    counts: dict[str, float] = {}
    for key, value in after.items():
        if not key.startswith(LATENCY_BUCKET + "{"):
            continue
        labels = dict(LABEL.findall(key))
        if labels.get("route") == route:
            counts[labels["le"]] = counts.get(labels["le"], 0.0) + value - before.get(key, 0.0)
    total = counts.get("+Inf", 0.0)
    if total <= 0:
        return None
    within = next(
        (n for le, n in counts.items() if le != "+Inf" and float(le) == bound_seconds), None
    )
    if within is None:
        raise KeyError(f"no latency bucket at {bound_seconds} s")
    return (total - within) / total
