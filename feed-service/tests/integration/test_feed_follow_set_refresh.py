"""A cached follow set near the end of its TTL is used and refreshed in the background."""

import asyncio
import time

from feed_standins import Graph, ids_of, newest_first, read_page
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from feed_service.follow_sets import FILLED_AT, decode_follow_set, refresh_after_seconds
from feed_service.settings import Settings
from feedline_shared import caches

VIEWER = 1
TTL = Settings.model_fields["follow_set_cache_ttl_seconds"].default
REFRESH_AT = refresh_after_seconds(TTL, VIEWER)


def following_calls(graph: Graph) -> int:
    return len(graph.calls_to("following"))


async def age_cached_set(redis: Redis, seconds: float) -> None:
    await redis.hset(caches.following_key(VIEWER), FILLED_AT, str(time.time() - seconds))


async def wait_for_following_calls(graph: Graph, count: int) -> None:
    for _ in range(200):
        if following_calls(graph) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"expected {count} follow-set requests, saw {following_calls(graph)}")


async def settled(redis: Redis) -> dict[bytes, bytes]:
    # The refresh writes after its request; give it a moment past the request itself.
    for _ in range(100):
        cached = await redis.hgetall(caches.following_key(VIEWER))
        if float(cached.get(FILLED_AT.encode(), b"0")) > time.time() - 5:
            return cached
        await asyncio.sleep(0.01)
    return await redis.hgetall(caches.following_key(VIEWER))


async def test_a_fresh_set_is_used_without_asking_user_service(client, graph, redis):
    graph.follow(VIEWER, 2)
    graph.add_posts([2] * 3)
    await read_page(client)
    assert following_calls(graph) == 1
    await age_cached_set(redis, REFRESH_AT - 5)

    await read_page(client)
    await asyncio.sleep(0.05)

    assert following_calls(graph) == 1


async def test_an_old_set_is_used_and_refreshed_in_the_background(client, graph, redis):
    graph.follow(VIEWER, 2)
    posts = graph.add_posts([2] * 3)
    await read_page(client)
    # A change user-service's invalidation did not reach (the case the TTL bounds).
    graph.follow(VIEWER, 3)
    later = graph.add_posts([3] * 2)
    await age_cached_set(redis, REFRESH_AT + 1)

    page = await read_page(client)

    assert ids_of(page) == newest_first(posts), "this read used the cached set"
    await wait_for_following_calls(graph, 2)
    cached = await settled(redis)
    assert {f.id for f in decode_follow_set(cached[caches.FOLLOW_SET.encode()])} == {2, 3}
    assert 0 < await redis.ttl(caches.following_key(VIEWER)) <= TTL
    page = await read_page(client)
    assert set(later) <= set(ids_of(page))
    assert following_calls(graph) == 2


async def test_a_refresh_loses_to_an_invalidation_made_while_it_ran(client, graph, redis):
    graph.follow(VIEWER, 2)
    graph.add_posts([2] * 3)
    await read_page(client)
    await age_cached_set(redis, TTL)

    async def unfollow_meanwhile() -> None:
        graph.unfollow(VIEWER, 2)
        await caches.invalidate_following(redis, VIEWER)

    graph.during_following = unfollow_meanwhile
    await read_page(client)
    await wait_for_following_calls(graph, 2)
    graph.during_following = None
    await asyncio.sleep(0.05)

    cached = await redis.hgetall(caches.following_key(VIEWER))
    assert caches.FOLLOW_SET.encode() not in cached, "the refresh did not overwrite the change"
    assert ids_of(await read_page(client)) == []


async def test_concurrent_reads_of_an_old_set_refresh_it_once(client, graph, redis):
    graph.follow(VIEWER, 2)
    graph.add_posts([2] * 3)
    await read_page(client)
    await age_cached_set(redis, TTL)
    release = asyncio.Event()

    async def hold() -> None:
        await release.wait()

    graph.during_following = hold
    await asyncio.gather(*(read_page(client) for _ in range(5)))
    release.set()
    await wait_for_following_calls(graph, 2)
    await asyncio.sleep(0.05)

    assert following_calls(graph) == 2


def refreshes_skipped() -> float:
    value = REGISTRY.get_sample_value(
        "feedline_feed_follow_set_refreshes_total", {"result": "skipped"}
    )
    return value or 0.0


async def test_with_user_service_down_old_sets_serve_and_refreshes_pause(client, graph, redis):
    graph.follow(VIEWER, 2)
    posts = graph.add_posts([2] * 3)
    await read_page(client)
    await age_cached_set(redis, TTL)
    graph.users_down = True
    skipped = refreshes_skipped()

    for _ in range(5):
        assert ids_of(await read_page(client)) == newest_first(posts)
        await asyncio.sleep(0.02)

    assert refreshes_skipped() == skipped + 1, "one failed refresh pauses the others"
