"""The chronological home feed against real Redis and stand-in user/post services."""

import asyncio

from feed_standins import Graph, ids_of, newest_first, read_all, read_page
from prometheus_client import REGISTRY

from feedline_shared import caches
from feedline_shared.timelines import TimelineStore

VIEWER = 1


def timeline_misses() -> float:
    value = REGISTRY.get_sample_value("feedline_feed_timeline_reads_total", {"result": "miss"})
    return value or 0.0


def rebuild_calls(graph: Graph) -> list[dict[str, object]]:
    # Only a rebuild closes its race with an ``after`` query.
    return [c for c in graph.calls_to("by-authors") if c["after"] is not None]


async def test_built_timeline_is_served_from_redis_without_rebuilding(client, graph, store):
    graph.follow(VIEWER, 2, 3)
    posts = graph.add_posts([2, 3, VIEWER, 2, 3] * 6)
    await store.rebuild(VIEWER, posts, [2, 3])

    page = await read_page(client, limit=10)

    assert ids_of(page) == newest_first(posts)[:10]
    assert page["next_cursor"] is not None
    assert graph.calls_to("by-authors") == []  # no rebuild, no celebrity, no continuation
    assert len(graph.calls_to("batch")) == 1  # one hydration call for the page
    item = page["items"][0]
    assert set(item) == {
        "id",
        "author",
        "caption",
        "media_url",
        "created_at",
        "like_count",
        "liked_by_me",
    }
    assert isinstance(item["id"], str) and isinstance(item["author"]["id"], str)


async def test_missing_timeline_is_rebuilt_then_served(client, graph, store):
    graph.follow(VIEWER, 2, 3)
    posts = graph.add_posts([2, 3, VIEWER] * 10)
    assert not (await store.read(VIEWER, before=None, count=1)).built

    page = await read_page(client, limit=20)

    assert ids_of(page) == newest_first(posts)[:20]
    timeline = await store.read(VIEWER, before=None, count=100)
    assert timeline.built and timeline.merged_followees == {2, 3}
    assert timeline.post_ids == newest_first(posts)
    assert len(rebuild_calls(graph)) == 1


async def test_post_created_while_the_timeline_is_rebuilt_is_not_lost(client, graph, store):
    graph.follow(VIEWER, 2)
    posts = graph.add_posts([2] * 5)
    late: list[int] = []

    def post_during_rebuild(body: dict[str, object]) -> None:
        # Its fan-out skipped the timeline: it did not exist yet.
        if not late:
            late.append(graph.add_post(2))

    graph.after_by_authors = post_during_rebuild
    page = await read_page(client)

    assert ids_of(page) == newest_first(posts + late)
    assert late[0] in (await store.read(VIEWER, before=None, count=10)).post_ids


async def test_concurrent_first_requests_rebuild_once(client, graph):
    graph.follow(VIEWER, 2, 3)
    posts = graph.add_posts([2, 3] * 30)
    misses = timeline_misses()

    pages = await asyncio.gather(*(read_page(client, limit=10) for _ in range(20)))

    assert all(ids_of(page) == newest_first(posts)[:10] for page in pages)
    assert timeline_misses() - misses == 20  # every request found the timeline missing
    assert len(rebuild_calls(graph)) == 1


async def test_concurrent_first_requests_on_two_processes_rebuild_once(make_client, graph):
    graph.follow(VIEWER, 2, 3)
    posts = graph.add_posts([2, 3] * 30)
    first, second = await make_client(), await make_client()
    misses = timeline_misses()

    pages = await asyncio.gather(
        *(read_page(c, limit=10) for c in (first, second) for _ in range(10))
    )

    assert all(ids_of(page) == newest_first(posts)[:10] for page in pages)
    assert timeline_misses() - misses == 20
    assert len(rebuild_calls(graph)) == 1


async def test_celebrity_posts_are_merged_at_read_time_in_order(client, graph, store):
    graph.follow(VIEWER, 2, 50)
    graph.followers_override[50] = 1_000_000  # a celebrity: never fanned out
    posts = graph.add_posts([2, 50, 50, 2, VIEWER, 50, 2] * 4)
    celebrity_posts = {p for p in posts if graph.posts[p].author_id == 50}

    ids, _ = await read_all(client, limit=5)

    assert ids == newest_first(posts)
    timeline = await store.read(VIEWER, before=None, count=100)
    assert timeline.merged_followees == {2}
    assert not celebrity_posts & set(timeline.post_ids)


async def test_a_former_celebrity_stays_merged_at_read_time(client, graph, store):
    # Posts made while the author was above the threshold were never fanned out; once the
    # follower count falls back, the timeline still lacks them, so reads keep merging.
    graph.follow(VIEWER, 2, 50)
    graph.peak_followers[50] = 1_000_000
    posts = graph.add_posts([2, 50, 2, 50])
    # The worker merged 50 on follow, before the posts that then skipped fan-out.
    await store.rebuild(VIEWER, [p for p in posts if graph.posts[p].author_id == 2], [2, 50])

    ids, _ = await read_all(client, limit=3)

    assert ids == newest_first(posts)


async def test_follow_is_visible_in_the_next_feed_request(client, graph, store, redis):
    graph.follow(VIEWER, 2)
    older = graph.add_posts([2] * 5, hours_ago=3)
    await read_page(client)  # builds the timeline without user 3
    followee_posts = graph.add_posts([3] * 4, hours_ago=2)

    # No fan-out, no event: only user-service knows, and it invalidates the cached set.
    graph.follow(VIEWER, 3)
    await caches.invalidate_following(redis, VIEWER)
    page = await read_page(client)

    assert ids_of(page) == newest_first(older + followee_posts)
    assert 3 in (await store.read(VIEWER, before=None, count=1)).merged_followees


async def test_unfollow_is_visible_even_while_the_timeline_still_holds_the_posts(
    client, graph, store, redis
):
    graph.follow(VIEWER, 2, 3)
    kept = graph.add_posts([2] * 5)
    dropped = graph.add_posts([3] * 5)
    await read_page(client)

    graph.unfollow(VIEWER, 3)
    await caches.invalidate_following(redis, VIEWER)
    page = await read_page(client)

    assert ids_of(page) == newest_first(kept)
    timeline = await store.read(VIEWER, before=None, count=100)
    assert set(dropped) <= set(timeline.post_ids)  # the worker has not removed them yet
    assert timeline.merged_followees == {2}


async def test_deleted_post_is_never_shown_even_if_still_in_the_timeline(client, graph, store):
    graph.follow(VIEWER, 2)
    posts = graph.add_posts([2] * 12)
    await read_page(client)
    deleted = posts[-3:]  # the newest three
    for post_id in deleted:
        graph.posts[post_id].deleted = True

    page = await read_page(client, limit=9)

    assert ids_of(page) == newest_first(posts[:-3])
    assert set(deleted) <= set((await store.read(VIEWER, before=None, count=100)).post_ids)


async def test_a_post_reachable_two_ways_is_shown_once(client, graph, store):
    graph.follow(VIEWER, 2, 3)
    posts = graph.add_posts([2, 3] * 10)
    await read_page(client)  # 2 and 3 merged into the timeline
    graph.followers_override[2] = 1_000_000  # 2 becomes a celebrity: read from both sources
    await store.fan_out([VIEWER], posts[0])  # a redelivered fan-out

    ids, _ = await read_all(client, limit=3)

    assert ids == newest_first(posts)
    assert len(ids) == len(set(ids))


async def test_pages_neither_repeat_nor_skip_while_new_posts_arrive(client, graph, store):
    graph.follow(VIEWER, 2, 3)
    posts = graph.add_posts([2, 3, VIEWER] * 10)
    first = await read_page(client, limit=10)
    for author in (2, 3, 2, VIEWER):
        post_id = graph.add_post(author)
        await store.fan_out([*graph.followers_of(author), author], post_id)

    seen = ids_of(first)
    cursor = first["next_cursor"]
    while cursor is not None:
        page = await read_page(client, limit=10, cursor=cursor)
        seen.extend(ids_of(page))
        cursor = page["next_cursor"]

    assert seen == newest_first(posts)
    fresh = await read_page(client, limit=4)
    assert ids_of(fresh) == newest_first(list(graph.posts))[:4]


async def test_paging_past_the_timeline_cap_reaches_the_whole_history(make_client, graph, redis):
    client = await make_client(timeline_cap=50)
    graph.follow(VIEWER, 2, 3, 4)
    posts = graph.add_posts([2, 3, 4] * 40)

    ids, pages = await read_all(client, limit=20)

    assert ids == newest_first(posts)
    assert pages == 6  # the last full page already says it is the end
    capped = TimelineStore(redis, cap=50)
    assert await capped.size(VIEWER) == 50


async def test_first_request_with_200_followees_and_no_timeline_gets_a_full_page(client, graph):
    followees = list(range(100, 300))
    graph.follow(VIEWER, *followees)
    posts = graph.add_posts(followees)

    page = await read_page(client, limit=20)

    assert ids_of(page) == newest_first(posts)[:20]
    assert page["next_cursor"] is not None


async def test_empty_feed_ends_at_once(client, graph):
    page = await read_page(client)
    assert page == {"items": [], "next_cursor": None}
