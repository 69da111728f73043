import os

import pytest
from redis.asyncio import Redis

from feedline_shared.timelines import TimelineStore

REDIS_URL = os.environ.get("SHARED_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


@pytest.fixture
async def store():
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    yield TimelineStore(redis, cap=5, ttl_seconds=60, prefix="t")
    await redis.flushdb()
    await redis.aclose()


async def test_fan_out_skips_unbuilt_timelines_and_writes_built_ones(store):
    await store.rebuild(1, [], [])
    written = await store.fan_out([1, 2], 42)
    assert written == 1
    assert (await store.read(1, before=None, count=10)).post_ids == [42]
    assert not (await store.read(2, before=None, count=10)).built


async def test_order_is_exact_for_ids_beyond_double_precision(store):
    base = (1 << 62) + 1
    ids = [base, base + 1, base + 2]
    await store.rebuild(1, ids, [7])
    page = await store.read(1, before=None, count=10)
    assert page.post_ids == [base + 2, base + 1, base]
    assert page.merged_followees == {7}
    assert (await store.read(1, before=base + 2, count=10)).post_ids == [base + 1, base]


async def test_cap_keeps_newest_and_redelivery_does_not_duplicate(store):
    await store.rebuild(1, [1, 2, 3], [])
    for post_id in (4, 5, 6, 7, 7, 6):
        await store.fan_out([1], post_id)
    assert (await store.read(1, before=None, count=10)).post_ids == [7, 6, 5, 4, 3]


async def test_merge_needs_a_built_timeline_and_unmerge_removes(store):
    assert not await store.merge(1, 9, [10, 11])
    await store.rebuild(1, [1], [])
    assert await store.merge(1, 9, [10, 11])
    page = await store.read(1, before=None, count=10)
    assert page.post_ids == [11, 10, 1] and page.merged_followees == {9}
    await store.unmerge(1, 9, [10, 11])
    page = await store.read(1, before=None, count=10)
    assert page.post_ids == [1] and page.merged_followees == set()


async def test_timelines_expire_unless_read(store):
    await store.rebuild(1, [1], [2])
    ttl = await store.redis.pttl(store.timeline_key(1))
    assert 0 < ttl <= 60_000
    assert 0 < await store.redis.pttl(store.meta_key(1)) <= 60_000
