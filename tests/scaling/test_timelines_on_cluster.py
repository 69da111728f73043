"""TimelineStore on a real Redis Cluster: the same behaviour as on one server, with the users'
timelines spread over every node (no command may span slots)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio.cluster import RedisCluster as ClusterClient
from redis_cluster_nodes import RedisClusterNodes

from feedline_shared.redis import create_redis
from feedline_shared.settings import ServiceSettings
from feedline_shared.timelines import TimelineStore, timeline_key_pattern

USERS = list(range(1, 201))


@pytest.fixture
async def store(cluster: RedisClusterNodes, unique: str) -> AsyncIterator[TimelineStore]:
    redis = create_redis(ServiceSettings(redis_url=cluster.url, redis_cluster=True))
    assert isinstance(redis, ClusterClient)
    yield TimelineStore(redis, cap=5, ttl_seconds=60, prefix=f"t{unique}")
    await redis.aclose()


async def test_fan_out_reaches_built_timelines_on_every_node(
    store: TimelineStore, cluster: RedisClusterNodes
) -> None:
    built = USERS[::2]
    for user_id in built:
        await store.rebuild(user_id, [1], [])

    assert await store.fan_out(USERS, 42) == len(built)

    per_node = cluster.keys_per_node(timeline_key_pattern(store.prefix))
    assert sum(per_node.values()) == len(built)
    assert all(count > 0 for count in per_node.values()), per_node
    for user_id in USERS:
        page = await store.read(user_id, before=None, count=10)
        assert page.built == (user_id in built)
        assert page.post_ids == ([42, 1] if page.built else [])


async def test_fan_out_redelivery_does_not_duplicate_and_keeps_the_cap(
    store: TimelineStore,
) -> None:
    for user_id in USERS[:50]:
        await store.rebuild(user_id, [1, 2, 3], [])
    for post_id in (4, 5, 6, 7, 7, 6):
        await store.fan_out(USERS[:50], post_id)
    for user_id in USERS[:50]:
        assert (await store.read(user_id, before=None, count=10)).post_ids == [7, 6, 5, 4, 3]


async def test_exact_order_and_cursor_past_double_precision(store: TimelineStore) -> None:
    base = (1 << 62) + 1
    await store.rebuild(7, [base, base + 1, base + 2], [9])
    page = await store.read(7, before=None, count=10)
    assert page.post_ids == [base + 2, base + 1, base] and page.merged_followees == {9}
    assert (await store.read(7, before=base + 2, count=10)).post_ids == [base + 1, base]


async def test_rebuild_replaces_and_merge_unmerge_round_trip(store: TimelineStore) -> None:
    assert not await store.merge(11, 9, [10, 11])
    await store.rebuild(11, [1, 2], [3])
    await store.rebuild(11, [5], [4])
    assert (await store.read(11, before=None, count=10)).post_ids == [5]

    assert await store.merge(11, 9, [10, 11])
    page = await store.read(11, before=None, count=10)
    assert page.post_ids == [11, 10, 5] and page.merged_followees == {4, 9}

    await store.unmerge(11, 9, [10, 11])
    page = await store.read(11, before=None, count=10)
    assert page.post_ids == [5] and page.merged_followees == {4}


async def test_remove_purges_a_post_from_timelines_across_nodes(
    store: TimelineStore, cluster: RedisClusterNodes
) -> None:
    for user_id in USERS:
        await store.rebuild(user_id, [1, 2], [])
    await store.remove(USERS, [2])
    await store.remove(USERS, [2])
    for user_id in USERS:
        assert (await store.read(user_id, before=None, count=10)).post_ids == [1]

    for user_id in USERS:
        await store.drop(user_id)
    assert sum(cluster.keys_per_node(f"{store.prefix}:*").values()) == 0


async def test_reads_refresh_the_ttl_of_both_keys(store: TimelineStore) -> None:
    await store.rebuild(3, [1], [2])
    await store.redis.pexpire(store.timeline_key(3), 1_000)
    await store.redis.pexpire(store.meta_key(3), 1_000)
    await store.read(3, before=None, count=1)
    assert 1_000 < await store.redis.pttl(store.timeline_key(3)) <= 60_000
    assert 1_000 < await store.redis.pttl(store.meta_key(3)) <= 60_000
