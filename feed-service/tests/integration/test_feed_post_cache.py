"""Hydration from the Redis post cache: hits make no post-service call; likes, deletes and
fills racing them keep it right."""

import asyncio

import orjson
from feed_standins import Graph, ids_of, newest_first, read_page
from prometheus_client import REGISTRY

from feedline_shared import caches
from feedline_shared.timelines import TimelineStore

VIEWER = 1


def hydration(result: str) -> float:
    value = REGISTRY.get_sample_value("feedline_feed_hydration_cache_total", {"result": result})
    return value or 0.0


async def cache_authors(redis, *author_ids: int) -> None:
    """What post-service's author directory writes when it hydrates posts."""
    for author_id in author_ids:
        summary = {
            "id": str(author_id),
            "username": f"user{author_id}",
            "display_name": f"User {author_id}",
        }
        await redis.set(caches.user_key(author_id), orjson.dumps(summary))


async def built_feed(graph: Graph, store: TimelineStore, redis) -> list[int]:
    graph.follow(VIEWER, 2, 3)
    posts = graph.add_posts([2, 3] * 5)
    await store.rebuild(VIEWER, posts, [2, 3])
    await cache_authors(redis, 2, 3)
    return newest_first(posts)


async def test_a_second_read_is_hydrated_from_redis_without_post_service(
    client, graph, store, redis
):
    posts = await built_feed(graph, store, redis)
    first = await read_page(client, limit=10)
    assert len(graph.calls_to("batch")) == 1
    hits, misses = hydration("hit"), hydration("miss")

    second = await read_page(client, limit=10)

    assert second == first
    assert ids_of(second) == posts
    assert len(graph.calls_to("batch")) == 1
    assert (hydration("hit") - hits, hydration("miss") - misses) == (10, 0)


async def test_an_author_missing_from_the_cache_sends_only_their_posts_to_post_service(
    client, graph, store, redis
):
    posts = await built_feed(graph, store, redis)
    await read_page(client, limit=10)
    await redis.delete(caches.user_key(3))

    page = await read_page(client, limit=10)

    assert ids_of(page) == posts
    asked = {int(i) for i in graph.calls_to("batch")[-1]["ids"]}
    assert asked == {p for p in posts if graph.posts[p].author_id == 3}


async def test_a_like_shows_at_once_for_the_liker_and_in_the_count(client, graph, store, redis):
    posts = await built_feed(graph, store, redis)
    await read_page(client, limit=10)
    liked = posts[3]
    # What post-service does: commit the like, then invalidate before answering.
    graph.posts[liked].like_count = 1
    graph.likes.add((liked, VIEWER))
    await caches.invalidate_like(redis, liked, VIEWER)

    page = await read_page(client, limit=10)

    item = page["items"][3]
    assert (item["like_count"], item["liked_by_me"]) == (1, True)
    assert [int(i) for i in graph.calls_to("batch")[-1]["ids"]] == [liked]
    assert all(not i["liked_by_me"] for n, i in enumerate(page["items"]) if n != 3)


async def test_a_tombstone_hides_a_post_post_service_would_still_return(
    client, graph, store, redis
):
    posts = await built_feed(graph, store, redis)
    await read_page(client, limit=10)
    calls = len(graph.calls_to("batch"))
    await caches.invalidate_deletion(redis, posts[0])

    page = await read_page(client, limit=10)

    assert ids_of(page) == posts[1:]
    assert len(graph.calls_to("batch")) == calls


async def test_a_fill_racing_a_like_never_puts_the_old_count_back(client, graph, store, redis):
    posts = await built_feed(graph, store, redis)
    target = posts[0]

    async def like_lands_meanwhile() -> None:
        # The batch has read the old count; the like commits and invalidates before the
        # feed writes its copy back.
        graph.during_batch = None
        graph.posts[target].like_count = 7
        await caches.invalidate_like(redis, target, 99)

    graph.during_batch = like_lands_meanwhile
    stale = await read_page(client, limit=10)
    assert stale["items"][0]["like_count"] == 0

    assert not await redis.hexists(caches.post_key(target), caches.LIKES)
    fresh = await read_page(client, limit=10)
    assert fresh["items"][0]["like_count"] == 7


async def test_malformed_cache_entries_are_refetched_not_served(client, graph, store, redis):
    posts = await built_feed(graph, store, redis)
    await read_page(client, limit=10)
    await redis.hset(caches.post_key(posts[0]), caches.BODY, b"not json")
    await redis.set(caches.user_key(2), b"{}")

    page = await read_page(client, limit=10)

    assert ids_of(page) == posts
    asked = {int(i) for i in graph.calls_to("batch")[-1]["ids"]}
    assert posts[0] in asked and all(p in asked for p in posts if graph.posts[p].author_id == 2)


async def test_the_follow_set_is_read_from_redis_until_a_follow_invalidates_it(
    client, graph, store, redis
):
    posts = await built_feed(graph, store, redis)
    await read_page(client, limit=10)
    await read_page(client, limit=10)
    assert len(graph.calls_to("following")) == 1

    newcomer = graph.add_posts([4])
    graph.follow(VIEWER, 4)
    await caches.invalidate_following(redis, VIEWER)  # what user-service does after commit
    page = await read_page(client, limit=11)

    assert ids_of(page) == newest_first(posts + newcomer)
    assert len(graph.calls_to("following")) == 2


async def test_a_follow_set_fill_racing_an_unfollow_is_refused(client, graph, store, redis):
    posts = await built_feed(graph, store, redis)

    async def unfollow_lands_meanwhile() -> None:
        graph.during_following = None
        graph.unfollow(VIEWER, 3)
        await caches.invalidate_following(redis, VIEWER)

    graph.during_following = unfollow_lands_meanwhile
    await read_page(client, limit=10)  # answered from the set read before the unfollow

    assert not await redis.hexists(caches.following_key(VIEWER), caches.FOLLOW_SET)
    page = await read_page(client, limit=10)
    assert ids_of(page) == [p for p in posts if graph.posts[p].author_id == 2]


async def test_recently_read_authors_are_reused_from_process_memory_for_a_few_seconds(
    make_client, graph, store, redis
):
    posts = await built_feed(graph, store, redis)
    client = await make_client(author_local_cache_seconds=0.3)
    await read_page(client, limit=10)  # fills the post cache
    await read_page(client, limit=10)  # reads the authors from Redis, keeps them
    renamed = {"id": "2", "username": "user2", "display_name": "Renamed"}
    await redis.set(caches.user_key(2), orjson.dumps(renamed))

    soon = await read_page(client, limit=10)
    await asyncio.sleep(0.35)
    later = await read_page(client, limit=10)

    names = {i["author"]["display_name"] for i in soon["items"]}
    assert names == {"User 2", "User 3"}
    assert {i["author"]["display_name"] for i in later["items"]} == {"Renamed", "User 3"}
    assert ids_of(later) == posts


async def test_a_cache_hit_page_takes_one_redis_command_and_a_like_still_shows(
    client, graph, store, redis, monkeypatch
):
    posts = await built_feed(graph, store, redis)
    await read_page(client, limit=10)  # fills the post cache
    first = await read_page(client, limit=10)  # keeps the authors in process memory
    app_redis = client.app.state.redis
    commands: list[str] = []
    execute = app_redis.execute_command

    async def counted(*args, **kwargs):
        commands.append(str(args[0]))
        return await execute(*args, **kwargs)

    monkeypatch.setattr(app_redis, "execute_command", counted)

    second = await read_page(client, limit=10)

    assert second == first and ids_of(second) == posts
    # Timeline, follow set, the page's posts and the reader's like state: one script call.
    assert commands == ["EVALSHA"]
    # The rows it read are the cache's current ones: a like committed since shows at once.
    liked = posts[3]
    await redis.hset(caches.post_key(liked), mapping={"likes": "41"})
    await redis.hset(caches.liked_key(VIEWER), mapping={str(liked): "1"})
    third = await read_page(client, limit=10)
    item = next(i for i in third["items"] if int(i["id"]) == liked)
    assert (item["like_count"], item["liked_by_me"]) == (41, True)
    assert len(graph.calls_to("batch")) == 1


async def test_a_full_page_reads_only_its_own_posts_and_a_deleted_one_brings_in_the_next(
    client, graph, store, redis
):
    # More posts than a page and its overfetch (10): the stream goes on past the first read.
    graph.follow(VIEWER, 2, 3)
    created = graph.add_posts([2, 3] * 12)
    await store.rebuild(VIEWER, created, [2, 3])
    await cache_authors(redis, 2, 3)
    posts = newest_first(created)
    await read_page(client, limit=24)  # fills the post cache
    hits = hydration("hit")

    page = await read_page(client, limit=4)

    assert ids_of(page) == posts[:4]
    # The overfetched ids behind the page are not hydrated when the page is full.
    assert hydration("hit") - hits == 4
    await caches.invalidate_deletion(redis, posts[1])
    calls = len(graph.calls_to("batch"))

    page = await read_page(client, limit=4)

    assert ids_of(page) == [posts[0], *posts[2:5]]
    assert len(graph.calls_to("batch")) == calls
