"""The benchmark's Redis measurements on real servers: the delivery probe waits exactly for the
timelines that lack the post near their head; the memory figures come per list setting."""

from __future__ import annotations

import os

import pytest
from redis.asyncio import Redis

from bench.fanout import _PROBE, PROBE_DEPTH, still_waiting
from feedline_shared.timelines import encode_member

REDIS_URL = os.environ.get("BENCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/10")


@pytest.fixture
async def redis():
    client = Redis.from_url(REDIS_URL)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


async def test_only_timelines_without_the_post_near_their_head_are_waited_for(redis) -> None:
    post = encode_member(1 << 40)
    older = [encode_member(i) for i in range(1, 20)]
    await redis.rpush("at-head", post, *older)
    await redis.rpush("at-depth", *older[: PROBE_DEPTH - 1], post)
    await redis.rpush("too-deep", *older[:PROBE_DEPTH], post)
    await redis.rpush("other-posts", *older)
    keys = ["at-head", "at-depth", "too-deep", "other-posts", "no-timeline"]
    probe = redis.register_script(_PROBE)
    assert await still_waiting(probe, keys, post) == ["too-deep", "other-posts", "no-timeline"]
    assert await still_waiting(probe, ["at-head", "at-depth"], post) == []


def test_memory_figures_come_from_one_server_per_setting(tmp_path) -> None:
    from bench import memory

    cap, timelines = 50, 20
    results = memory.measure(tmp_path, 16_501, cap, timelines, rounds=2)
    sizes = [m["list_max_listpack_size"] for m in results]
    assert sizes == [
        memory.REDIS_LIST_NODE_SIZE,
        memory.PREVIOUS_LISTPACK_SIZE,
        memory.DEFAULT_LISTPACK_SIZE,
    ]
    assert [m["deployed"] for m in results] == [True, False, False]
    assert memory.deployed(results) is results[0]
    for m in results:
        # 8-byte members: at least their bytes per entry, and the lists stay lists.
        assert 8 <= m["list_bytes_per_entry"] <= 64
        assert m["fan_out_writes_per_s"] > 0 and m["fan_out_redis_us_per_write"] > 0
        assert m["fan_out_redis_us_per_write_reading_heads"] > 0
        assert m["encoding_after_writes"] in {"quicklist", "listpack"}
