"""Fan-out: Redis's own ZADD ceiling, then the worker's delivery of one big author's posts."""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import subprocess
import time
from collections.abc import Sequence

import aiohttp
import redis
import redis.asyncio as aredis
from redis.commands.core import AsyncScript

from bench.stats import median, summary_ms
from feedline_shared import timelines
from feedline_shared.timelines import encode_member

#: A separate logical database for the ceiling runs, flushed afterwards; timelines live in db 0.
SCRATCH_DB = 1
LAG = "feedline_fanout_delivery_lag_seconds"
DURATION_SUM = 'feedline_fanout_duration_seconds_sum{op="add"}'
WRITES = 'feedline_fanout_timeline_writes_total{op="add"}'
#: How deep the delivery probe looks into a sampled timeline for the post it waits for.
PROBE_DEPTH = 8

# KEYS: the sampled timelines still waiting; ARGV: the post's member, PROBE_DEPTH. Returns the
# (1-based) positions of the keys that do not hold it yet. The post is the newest, so it lands
# at the head: looking at the first few entries only keeps the probe from loading the Redis it
# measures (a whole-list LPOS cost Redis about as much as the fan-out itself), and one script
# call per poll keeps it from loading the CPU beside it (a pipeline of a hundred LPOS commands
# every 2 ms cost this Python client a fifth of a core).
_PROBE = """
local waiting = {}
for i, key in ipairs(KEYS) do
  if not redis.call('LPOS', key, ARGV[1], 'MAXLEN', ARGV[2]) then waiting[#waiting + 1] = i end
end
return waiting
"""


async def still_waiting(probe: AsyncScript, keys: list[str], member: bytes) -> list[str]:
    """The timelines among ``keys`` whose first PROBE_DEPTH entries do not hold ``member``;
    ``probe`` is the client's registered ``_PROBE``."""
    positions = await probe(keys=keys, args=[member, PROBE_DEPTH])
    return [keys[i - 1] for i in positions]


def timeline_key(user_id: int) -> str:
    """The home timeline key of the Redis contract (docs/architecture.md, default prefix)."""
    return timelines.timeline_key(user_id)


def zadd_ceiling_benchmark(port: int, requests: int) -> float:
    """redis-benchmark: ZADD pipelined 32 deep over 100,000 random keys (the fan-out pattern),
    starting from an empty scratch database each time, so repeated runs measure the same work."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        return 0.0
    scratch = redis.Redis(port=port, db=SCRATCH_DB)
    scratch.flushdb()
    scratch.close()
    out = subprocess.run(
        [
            binary,
            *("-h", "127.0.0.1", "-p", str(port), "--dbnum", str(SCRATCH_DB), "-q"),
            *("-n", str(requests), "-P", "32", "-r", "100000", "-c", "4"),
            *("ZADD", "bench:tl:__rand_int__", "0", "member:__rand_int__"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    found = re.findall(r"([0-9.]+) requests per second", out.replace("\r", "\n"))
    return float(found[-1]) if found else 0.0


def zadd_ceiling_redis_py(port: int, keys: int, pipeline: int = 1000) -> float:
    """The same pattern from one redis-py (hiredis) client: what Python can feed Redis."""
    client = redis.Redis(port=port, db=SCRATCH_DB)
    member = encode_member(1 << 40)
    started = time.perf_counter()
    for first in range(0, keys, pipeline):
        pipe = client.pipeline(transaction=False)
        for key in range(first, min(first + pipeline, keys)):
            pipe.zadd(f"bench:py:{key}", {member: 0})
        pipe.execute()
    elapsed = time.perf_counter() - started
    client.flushdb()
    client.close()
    return keys / elapsed


async def build_timelines(
    feed_url: str, internal_token: str, user_ids: Sequence[int], concurrency: int
) -> tuple[float, list[float]]:
    """One feed read per user straight at feed-service (the designed miss path rebuilds)."""
    from bench.clients import first_reads

    headers = [{"X-Internal-Token": internal_token, "X-User-ID": str(u)} for u in user_ids]
    started = time.perf_counter()
    latencies, _ = await first_reads(
        f"{feed_url}/feed", headers, "build follower timelines", concurrency
    )
    return time.perf_counter() - started, latencies


async def deliver_posts(
    *,
    gateway: str,
    token: str,
    metrics_url: str,
    redis_url: str,
    timeline_key,
    followers: Sequence[int],
    posts: int,
    sample_size: int = 100,
    give_up_after: float = 30.0,
) -> dict[str, object]:
    """Creates ``posts`` posts one after another and times each until all sampled follower
    timelines hold it; the sample always includes the follower written last (highest id)."""
    rng = random.Random(7)
    sample = rng.sample(list(followers), min(sample_size, len(followers)))
    sample.append(max(followers))
    keys = [timeline_key(u) for u in sample]
    last = keys[-1]
    client = aredis.Redis.from_url(redis_url)
    probe = client.register_script(_PROBE)
    deliveries: list[float] = []
    worker_lags: list[float] = []
    worker_rates: list[float] = []
    e2e_rates: list[float] = []
    missing = 0
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            for index in range(posts):
                before = await _scrape(session, metrics_url)
                started = time.perf_counter()
                body = {"caption": f"fan-out bench {index}"}
                async with session.post(
                    f"{gateway}/api/v1/posts", json=body, headers=headers
                ) as response:
                    if response.status != 201:
                        raise RuntimeError(
                            f"create post: {response.status} {await response.text()}"
                        )
                    post_id = int((await response.json())["id"])
                member = encode_member(post_id)
                waiting = list(keys)
                deadline = time.perf_counter() + give_up_after
                while waiting and time.perf_counter() < deadline:
                    if waiting[-1] == last:
                        # Until the timeline written last holds the post, only it is polled:
                        # the rest are checked once it does, so the probe adds almost nothing
                        # to the Redis it times while the fan-out runs.
                        still = await still_waiting(probe, [last], member)
                        waiting = [*waiting[:-1], *still]
                    else:
                        waiting = await still_waiting(probe, waiting, member)
                    if waiting:
                        await asyncio.sleep(0.002)
                delivered = time.perf_counter() - started
                if waiting:
                    missing += 1
                    continue
                deliveries.append(delivered)
                after = await _wait_metric(session, metrics_url, LAG + "_count", before)
                written = after.get(WRITES, 0) - before.get(WRITES, 0)
                lag = after.get(LAG + "_sum", 0) - before.get(LAG + "_sum", 0)
                spent = after.get(DURATION_SUM, 0) - before.get(DURATION_SUM, 0)
                worker_lags.append(lag)
                if spent > 0:
                    worker_rates.append(written / spent)
                e2e_rates.append(written / delivered)
    finally:
        await client.aclose()
    return {
        "posts": posts,
        "followers": len(followers),
        "sampled_timelines": len(keys),
        "undelivered_within_timeout": missing,
        "deliveries_s": deliveries,
        "worker_lags_s": worker_lags,
        "worker_writes_per_s": worker_rates,
        "end_to_end_writes_per_s": e2e_rates,
    }


def summarize_deliveries(rounds: Sequence[dict[str, object]]) -> dict[str, object]:
    """One summary of several :func:`deliver_posts` rounds (raw figures pooled)."""

    def pooled(name: str) -> list[float]:
        return [value for r in rounds for value in r[name]]  # type: ignore[attr-defined]

    deliveries = pooled("deliveries_s")
    return {
        "posts": sum(int(r["posts"]) for r in rounds),  # type: ignore[call-overload]
        "followers": rounds[0]["followers"],
        "sampled_timelines": rounds[0]["sampled_timelines"],
        "undelivered_within_timeout": sum(
            int(r["undelivered_within_timeout"])  # type: ignore[call-overload]
            for r in rounds
        ),
        "delivery_client": summary_ms(deliveries),
        "delivery_worker_metric": summary_ms(pooled("worker_lags_s")),
        "worker_writes_per_s_median": round(median(pooled("worker_writes_per_s"))),
        "end_to_end_writes_per_s_median": round(median(pooled("end_to_end_writes_per_s"))),
        "deliveries_s": [round(d, 4) for d in deliveries],
    }


async def _scrape(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    from bench.clients import scrape

    return await scrape(session, url)


async def _wait_metric(
    session: aiohttp.ClientSession, url: str, name: str, before: dict[str, float]
) -> dict[str, float]:
    """Polls the worker's metrics until ``name`` moved past its value in ``before``."""
    deadline = time.perf_counter() + 10
    while True:
        after = await _scrape(session, url)
        if after.get(name, 0) > before.get(name, 0) or time.perf_counter() > deadline:
            return after
        await asyncio.sleep(0.01)
