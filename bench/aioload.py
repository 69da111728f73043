"""Fallback load generator where wrk is missing: asyncio + aiohttp in its own process, closed
loop over ``--concurrency`` connections, same request mix and summary line as mix.lua."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import time
from pathlib import Path

import aiohttp


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


async def main_async(args: argparse.Namespace) -> dict[str, float]:
    users = args.users
    feed_share, posts_share = (float(x) for x in args.shares.split(","))
    latencies: list[float] = []
    counts = {"feed": 0, "posts": 0, "create": 0, "bad": 0, "errors": 0}
    deadline = time.monotonic() + args.duration
    base = args.url.rstrip("/")

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            if args.pace_ms > 0:
                await asyncio.sleep(random.expovariate(1000 / args.pace_ms))
            method, url, body, headers = "GET", base, None, {}
            if users:
                token, _ = random.choice(users)
                headers = {"Authorization": f"Bearer {token}"}
                draw = random.random()
                if draw < feed_share:
                    kind, url = "feed", base + "/api/v1/feed"
                elif draw < feed_share + posts_share:
                    kind = "posts"
                    url = f"{base}/api/v1/users/{random.choice(users)[1]}/posts"
                else:
                    kind, method = "create", "POST"
                    url, body = base + "/api/v1/posts", {"caption": "bench post"}
                counts[kind] += 1
            else:
                counts["feed"] += 1
            started = time.perf_counter()
            try:
                async with session.request(method, url, json=body, headers=headers) as response:
                    await response.read()
                    if response.status >= 400:
                        counts["bad"] += 1
            except (aiohttp.ClientError, TimeoutError):
                counts["errors"] += 1
                continue
            latencies.append((time.perf_counter() - started) * 1e6)

    started = time.monotonic()
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(args.concurrency)))
    elapsed = time.monotonic() - started
    return {
        "requests": len(latencies) + counts["errors"],
        "duration_us": int(elapsed * 1e6),
        "p50_us": percentile(latencies, 0.50),
        "p90_us": percentile(latencies, 0.90),
        "p95_us": percentile(latencies, 0.95),
        "p99_us": percentile(latencies, 0.99),
        "max_us": max(latencies, default=0.0),
        "mean_us": sum(latencies) / len(latencies) if latencies else 0.0,
        "non_2xx": counts["bad"],
        "status_4xx_5xx": counts["bad"],
        "connect_errors": 0,
        "read_errors": counts["errors"],
        "write_errors": 0,
        "timeouts": 0,
        "feed": counts["feed"],
        "posts": counts["posts"],
        "create": counts["create"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--pace-ms", type=float, default=0)
    parser.add_argument("--users-file")
    parser.add_argument("--shares", default="0.8,0.15")
    args = parser.parse_args()
    lines = Path(args.users_file).read_text().splitlines() if args.users_file else []
    args.users = [tuple(line.split()) for line in lines]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print("BENCHJSON " + json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
