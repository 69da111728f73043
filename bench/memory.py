"""Redis bytes per home-timeline entry at the cap, written through the services' own
``TimelineStore`` on a private redis-server, for a few ``list-max-listpack-size`` values (the
size of each node of a list: Feedline runs 64 entries; Redis's default, -2, is 8 KB), and what each
costs a fan-out: the rate at which one post is written into those full timelines and Redis's
time per write (the worker's own batched script, no HTTP or RabbitMQ around it), pushed blindly
under the high-water mark and, for comparison, with each timeline's head read first, the
settings taking turns on servers that run side by side."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import redis.asyncio as aredis

from bench.graph import post_id_at
from bench.infra import REDIS_LIST_NODE_SIZE, RedisServer
from feedline_shared.ids import EPOCH_MS
from feedline_shared.timeline_mark import mark_key, new_chain
from feedline_shared.timelines import TimelineStore, encode_member, timeline_key_pattern

FOLLOWEES_PER_TIMELINE = 10
BASE_MS = EPOCH_MS + 300 * 86_400_000
#: Redis's own default ``list-max-listpack-size``, for comparison.
DEFAULT_LISTPACK_SIZE = -2
#: 4 KB nodes, Feedline's setting before 64-entry nodes, for comparison.
PREVIOUS_LISTPACK_SIZE = -1


#: Fan-out rounds per setting; the settings take turns, so the machine's drift falls on all alike.
WRITE_ROUNDS = 8


async def _fill(store: TimelineStore, timelines: int) -> dict[str, object]:
    """Full timelines written through ``TimelineStore.rebuild``, and what they take."""
    client, cap = store.redis, store.cap
    before = int((await client.info("memory"))["used_memory"])
    for user in range(1, timelines + 1):
        post_ids = [post_id_at(BASE_MS + user * 7 + i * 1000, i % 4096) for i in range(cap)]
        followees = range(user * 100, user * 100 + FOLLOWEES_PER_TIMELINE)
        await store.rebuild(user, post_ids, followees)
    after = int((await client.info("memory"))["used_memory"])
    lists = metas = 0
    for user in range(1, timelines + 1):
        lists += int(await client.memory_usage(store.timeline_key(user), samples=0))
        metas += int(await client.memory_usage(store.meta_key(user), samples=0))
    encoding = await client.object("encoding", store.timeline_key(1))
    entries = cap * timelines
    return {
        "encoding": _text(encoding),
        "list_bytes_per_entry": round(lists / entries, 1),
        "with_meta_bytes_per_entry": round((lists + metas) / entries, 1),
        "used_memory_bytes_per_entry": round((after - before) / entries, 1),
    }


#: Posts a timeline has received since its rebuild at most, before the timed writes.
AGE_POSTS = 1_600


async def _age(store: TimelineStore, timelines: int) -> None:
    """Gives each timeline a different number of posts since its rebuild (0 to AGE_POSTS, kept
    to the cap): a rebuilt list starts a fresh head node at its first push, so how full the
    node a fan-out write lands in is, and what the push costs, depends on that number. Done
    after the memory figures, which are of rebuilt timelines."""
    for user in range(1, timelines + 1):
        count = user * 7919 % AGE_POSTS
        if not count:
            continue
        members = [
            encode_member(post_id_at(BASE_MS + 5 * 10**8 + i * 1000, 0)) for i in range(count)
        ]
        key = store.timeline_key(user)
        async with store.redis.pipeline(transaction=False) as pipe:
            pipe.lpush(key, *members)
            pipe.ltrim(key, 0, store.cap - 1)
            await pipe.execute()


async def _fan_out_once(
    store: TimelineStore, users: list[int], post_id: int, *, blind: bool
) -> tuple[float, float]:
    """Seconds at the client and Redis microseconds (``INFO commandstats``) for one post:
    pushed blindly under the high-water mark (as a fan-out's pages on their first delivery are),
    or with every timeline's head read (no mark)."""
    client = store.redis
    if blind:
        if await store.seed_mark() not in ("present", "set"):
            raise RuntimeError("could not set the high-water mark")
    else:
        await client.delete(mark_key(store.prefix))
    await client.config_resetstat()
    started = time.perf_counter()
    written = await store.fan_out(users, post_id, claim=new_chain())
    elapsed = time.perf_counter() - started
    if written != len(users):
        raise RuntimeError(f"fan-out wrote {written} of {len(users)} timelines")
    stats = await client.info("commandstats")
    return elapsed, float(stats["cmdstat_evalsha"]["usec"])


async def _measure_all(
    ports: dict[int, int], cap: int, timelines: int, rounds: int
) -> dict[int, dict[str, object]]:
    clients = {size: aredis.Redis(port=port) for size, port in ports.items()}
    stores = {size: TimelineStore(client, cap=cap) for size, client in clients.items()}
    try:
        figures: dict[int, dict[str, object]] = {}
        for size, store in stores.items():
            # Private servers: CONFIG SET here never reaches the shared one.
            await store.redis.config_set("list-max-listpack-size", size)
            figures[size] = await _fill(store, timelines)
            await _age(store, timelines)
        users = list(range(1, timelines + 1))
        kinds = (True, False)
        seconds = {(size, blind): [] for size in clients for blind in kinds}
        redis_us: dict[tuple[int, bool], list[float]] = {key: [] for key in seconds}
        order = list(clients)
        posts = 0
        for n in range(rounds):
            for size in order if n % 2 == 0 else order[::-1]:
                for blind in kinds if n % 2 == 0 else kinds[::-1]:
                    posts += 1
                    post_id = post_id_at(BASE_MS + 10**9 + posts * 1000, 0)
                    elapsed, usec = await _fan_out_once(stores[size], users, post_id, blind=blind)
                    seconds[(size, blind)].append(elapsed)
                    redis_us[(size, blind)].append(usec / timelines)
        for size, client in clients.items():
            write_s = statistics.median(seconds[(size, True)])
            figures[size]["fan_out_writes_per_s"] = round(timelines / write_s)
            figures[size]["fan_out_redis_us_per_write"] = round(
                statistics.median(redis_us[(size, True)]), 2
            )
            figures[size]["fan_out_redis_us_per_write_reading_heads"] = round(
                statistics.median(redis_us[(size, False)]), 2
            )
            figures[size]["encoding_after_writes"] = _text(
                await client.object("encoding", stores[size].timeline_key(1))
            )
        return figures
    finally:
        for client in clients.values():
            await client.aclose()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def measure(
    workdir: Path, port: int, cap: int, timelines: int, rounds: int = WRITE_ROUNDS
) -> list[dict[str, object]]:
    """One private redis-server per setting on ports ``port``, ``port + 1``…, all running at
    once: timelines filled, then one post fanned out into each in turn, ``rounds`` times."""
    sizes = (REDIS_LIST_NODE_SIZE, PREVIOUS_LISTPACK_SIZE, DEFAULT_LISTPACK_SIZE)
    ports = {size: port + i for i, size in enumerate(sizes)}
    servers = [RedisServer(p, workdir / f"mem{size}") for size, p in ports.items()]
    try:
        for server in servers:
            server.start()
        figures = asyncio.run(_measure_all(ports, cap, timelines, rounds))
    finally:
        for server in servers:
            server.stop()
    return [
        {
            "list_max_listpack_size": size,
            "redis_default": size == DEFAULT_LISTPACK_SIZE,
            "deployed": size == REDIS_LIST_NODE_SIZE,
            **figures[size],
        }
        for size in sizes
    ]


def deployed(synthetic: list[dict[str, object]]) -> dict[str, object]:
    """The measurement under the list setting Feedline runs with."""
    return next(m for m in synthetic if m.get("deployed"))


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
