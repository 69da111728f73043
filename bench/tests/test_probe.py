"""The delivery probe against a real Redis: it waits exactly for the timelines that lack the
post near their head."""

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
