"""Redis bytes per home-timeline entry at the cap, written through the services' own
``TimelineStore`` on a private redis-server, for a few ``list-max-listpack-size`` values (the
size of each node of a list: Feedline runs -1, 4 KB; Redis's default, -2, is 8 KB), and what each
costs a fan-out: the
rate at which one post is written into those full timelines (the worker's own batched script, no
HTTP or RabbitMQ around it)."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import redis.asyncio as aredis

from bench.graph import post_id_at
from bench.infra import REDIS_LIST_NODE_SIZE, RedisServer
from feedline_shared.ids import EPOCH_MS
from feedline_shared.timelines import TimelineStore, timeline_key_pattern

FOLLOWEES_PER_TIMELINE = 10
#: Redis's own default ``list-max-listpack-size``, for comparison.
DEFAULT_LISTPACK_SIZE = -2


async def _measure(port: int, cap: int, timelines: int) -> dict[str, float]:
    client = aredis.Redis(port=port)
    store = TimelineStore(client, cap=cap)
    base_ms = EPOCH_MS + 300 * 86_400_000
    before = int((await client.info("memory"))["used_memory"])
    for user in range(1, timelines + 1):
        post_ids = [post_id_at(base_ms + user * 7 + i * 1000, i % 4096) for i in range(cap)]
        followees = range(user * 100, user * 100 + FOLLOWEES_PER_TIMELINE)
        await store.rebuild(user, post_ids, followees)
    after = int((await client.info("memory"))["used_memory"])
    lists = metas = 0
    for user in range(1, timelines + 1):
        lists += int(await client.memory_usage(store.timeline_key(user), samples=0))
        metas += int(await client.memory_usage(store.meta_key(user), samples=0))
    encoding = await client.object("encoding", store.timeline_key(1))
    users = list(range(1, timelines + 1))
    durations = []
    for n in range(5):
        started = time.perf_counter()
        await store.fan_out(users, post_id_at(base_ms + 10**9 + n * 1000, 0))
        durations.append(time.perf_counter() - started)
    after_writes = await client.object("encoding", store.timeline_key(1))
    await client.flushall()
    await client.aclose()
    entries = cap * timelines
    return {
        "encoding": encoding.decode() if isinstance(encoding, bytes) else str(encoding),
        "list_bytes_per_entry": round(lists / entries, 1),
        "with_meta_bytes_per_entry": round((lists + metas) / entries, 1),
        "used_memory_bytes_per_entry": round((after - before) / entries, 1),
        "fan_out_writes_per_s": round(timelines / statistics.median(durations)),
        "encoding_after_writes": (
            after_writes.decode() if isinstance(after_writes, bytes) else str(after_writes)
        ),
    }


def measure(workdir: Path, port: int, cap: int, timelines: int) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    for node_size in (REDIS_LIST_NODE_SIZE, DEFAULT_LISTPACK_SIZE, -3):
        server = RedisServer(port, workdir / f"mem{node_size}")
        server.start()
        try:
            asyncio.run(_configure(port, node_size))
            figures = asyncio.run(_measure(port, cap, timelines))
        finally:
            server.stop()
        results.append(
            {
                "list_max_listpack_size": node_size,
                "redis_default": node_size == DEFAULT_LISTPACK_SIZE,
                "deployed": node_size == REDIS_LIST_NODE_SIZE,
                **figures,
            }
        )
    return results


def deployed(synthetic: list[dict[str, object]]) -> dict[str, object]:
    """The measurement under the list setting Feedline runs with."""
    return next(m for m in synthetic if m.get("deployed"))


async def _configure(port: int, node_size: int) -> None:
    # A private server: CONFIG SET here never reaches the shared one.
    client = aredis.Redis(port=port)
    await client.config_set("list-max-listpack-size", node_size)
    await client.aclose()


async def _real_timelines(redis_url: str, cap: int, sample: int) -> dict[str, object]:
    client = aredis.Redis.from_url(redis_url)
    sizes: list[tuple[int, int]] = []
    async for key in client.scan_iter(match=timeline_key_pattern(), count=1000):
        size = int(await client.llen(key))
        if size:
            sizes.append((size, int(await client.memory_usage(key, samples=0))))
        if len(sizes) >= sample:
            break
    await client.aclose()
    full = [(s, m) for s, m in sizes if s >= cap]
    chosen = full or sizes
    entries = sum(s for s, _ in chosen)
    return {
        "timelines_sampled": len(chosen),
        "at_cap": bool(full),
        "mean_entries": round(entries / len(chosen), 1) if chosen else 0,
        "list_bytes_per_entry": round(sum(m for _, m in chosen) / entries, 1) if entries else 0,
    }


def real_timelines(redis_url: str, cap: int, sample: int = 500) -> dict[str, object]:
    return asyncio.run(_real_timelines(redis_url, cap, sample))
