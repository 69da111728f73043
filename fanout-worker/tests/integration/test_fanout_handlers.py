"""Likes (affinity, deduplicated), follow/unfollow merges, profile updates, celebrities."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from aio_pika.abc import AbstractChannel
from fanout_standins import StandInServer
from fanout_support import (
    build_timelines,
    has_post,
    holders,
    metric,
    publish,
    running_worker,
    timelines_of,
    wait_for,
)
from fastapi import FastAPI
from redis.asyncio import Redis

from fanout_worker.keys import affinity_key
from fanout_worker.settings import Settings
from feedline_shared.caches import deleted_user_key, following_key, liked_key, post_key
from feedline_shared.caches import user_key as user_cache_key
from feedline_shared.events import (
    PostCreated,
    PostDeleted,
    PostLiked,
    PostUnliked,
    UserDeleted,
    UserFollowed,
    UserUnfollowed,
    UserUpdated,
)
from feedline_shared.timelines import TimelineStore

LIKER = 9_000_001
AUTHOR = 9_000_002


async def _consumed(event_type: str, count: int, before: float) -> None:
    async def done() -> bool:
        return metric("feedline_fanout_events_total", type=event_type, outcome="ok") >= (
            before + count
        )

    await wait_for(done, what=f"{count} {event_type} events")


async def test_redelivered_like_events_count_once_in_affinity(
    worker: FastAPI, redis: Redis, channel: AbstractChannel
) -> None:
    liked_before = metric("feedline_fanout_events_total", type="post.liked", outcome="ok")
    unliked_before = metric("feedline_fanout_events_total", type="post.unliked", outcome="ok")
    first, second = uuid.uuid4(), uuid.uuid4()
    like = {"author_id": AUTHOR, "user_id": LIKER, "like_count": 1}
    await publish(channel, PostLiked(post_id=1, **like), event_id=first)
    await publish(channel, PostLiked(post_id=1, **like), event_id=first)
    await publish(channel, PostLiked(post_id=2, **like), event_id=second)
    await _consumed("post.liked", 3, liked_before)
    assert await redis.hget(affinity_key(LIKER), str(AUTHOR)) == b"2"

    unlike = uuid.uuid4()
    await publish(channel, PostUnliked(post_id=2, **like), event_id=unlike)
    await publish(channel, PostUnliked(post_id=2, **like), event_id=unlike)
    await _consumed("post.unliked", 2, unliked_before)
    assert await redis.hget(affinity_key(LIKER), str(AUTHOR)) == b"1"
    assert await redis.ttl(f"feedline:evt:{{{LIKER}}}:{first}") > 6 * 86_400


async def test_like_and_delete_events_invalidate_the_cached_post_and_like_state(
    worker: FastAPI, redis: Redis, channel: AbstractChannel
) -> None:
    post_id = 9_000_050
    await redis.hset(post_key(post_id), mapping={"v": "10", "body": "{}", "likes": "4"})
    await redis.hset(liked_key(LIKER), mapping={"v": "20", str(post_id): "0", "9000051": "1"})
    before = metric("feedline_fanout_events_total", type="post.liked", outcome="ok")
    like = {"author_id": AUTHOR, "user_id": LIKER, "like_count": 5}
    await publish(channel, PostLiked(post_id=post_id, **like))
    await _consumed("post.liked", 1, before)
    assert await redis.hgetall(post_key(post_id)) == {b"body": b"{}", b"v": b"11"}
    # Only the liker's state for this post goes; its other entries stay cached.
    assert await redis.hgetall(liked_key(LIKER)) == {b"9000051": b"1", b"v": b"21"}

    before = metric("feedline_fanout_events_total", type="post.deleted", outcome="ok")
    await publish(channel, PostDeleted(post_id=post_id, author_id=AUTHOR))
    await _consumed("post.deleted", 1, before)
    assert await redis.hgetall(post_key(post_id)) == {b"deleted": b"1", b"v": b"12"}
    assert 0 < await redis.ttl(post_key(post_id)) <= 24 * 3600


async def test_follow_merges_followee_posts_and_unfollow_removes_them(
    worker: FastAPI, stand_in: StandInServer, redis: Redis, channel: AbstractChannel
) -> None:
    follower, unbuilt, followee, other = 9_100_001, 9_100_002, 9_100_003, 9_100_004
    stand_in.state.posts[followee] = [903, 902, 901]
    await build_timelines(redis, [follower])
    store = TimelineStore(redis)
    await store.merge(follower, other, [500])
    before = metric("feedline_fanout_events_total", type="user.followed", outcome="ok")

    await redis.hset(following_key(follower), mapping={"v": "10", "set": "[]"})
    await publish(channel, UserFollowed(follower_id=follower, followee_id=followee))
    await publish(channel, UserFollowed(follower_id=unbuilt, followee_id=followee))
    await _consumed("user.followed", 2, before)
    assert await redis.hgetall(following_key(follower)) == {b"v": b"11"}
    assert await timelines_of(redis, [follower]) == [[500, 901, 902, 903]]
    assert await redis.hexists(store.meta_key(follower), f"f:{followee}")
    assert await redis.exists(store.timeline_key(unbuilt), store.meta_key(unbuilt)) == 0

    before = metric("feedline_fanout_events_total", type="user.unfollowed", outcome="ok")
    await publish(channel, UserUnfollowed(follower_id=follower, followee_id=followee))
    await _consumed("user.unfollowed", 1, before)
    assert await redis.hget(following_key(follower), "v") == b"12"
    assert await timelines_of(redis, [follower]) == [[500]]
    assert not await redis.hexists(store.meta_key(follower), f"f:{followee}")


async def test_the_follow_that_makes_a_celebrity_drops_its_followers_follow_sets(
    stand_in: StandInServer, redis: Redis, channel: AbstractChannel, settings: Settings
) -> None:
    # user-service drops them after its commit; the worker repeats it in case Redis failed then.
    star, newcomer = 9_100_011, 9_100_012
    fans = [9_100_020, 9_100_021, 9_100_022, 9_100_023, 9_100_024]
    stand_in.state.followers[star] = sorted([*fans, newcomer])
    for fan in fans:
        await redis.hset(following_key(fan), mapping={"v": "10", "set": "[]"})
    # Two follower pages and a bit, so every page is dropped.
    narrow = settings.model_copy(update={"celebrity_follower_threshold": 5, "fanout_chunk_size": 2})
    async with running_worker(narrow):
        before = metric("feedline_fanout_events_total", type="user.followed", outcome="ok")
        for peak in (5, None):  # at the threshold, and from a user-service that sent no peak
            event = UserFollowed(
                follower_id=newcomer, followee_id=star, followee_peak_followers=peak
            )
            await publish(channel, event)
        await _consumed("user.followed", 2, before)
        for fan in fans:
            assert await redis.hget(following_key(fan), "set") == b"[]", "not past it: kept"

        event = UserFollowed(follower_id=newcomer, followee_id=star, followee_peak_followers=6)
        await publish(channel, event)
        await _consumed("user.followed", 3, before)
    for fan in fans:
        assert await redis.hgetall(following_key(fan)) == {b"v": b"11"}, fan


async def test_profile_update_drops_the_cached_author_summary(
    worker: FastAPI, redis: Redis, channel: AbstractChannel
) -> None:
    await redis.set(user_cache_key(AUTHOR), b'{"id": "9000002"}')
    await redis.set(user_cache_key(LIKER), b'{"id": "9000001"}')
    await publish(channel, UserUpdated(user_id=AUTHOR))

    async def dropped() -> bool:
        return not await redis.exists(user_cache_key(AUTHOR))

    await wait_for(dropped, what="the cached summary to be deleted")
    assert await redis.exists(user_cache_key(LIKER))


async def test_user_deleted_erases_the_accounts_posts_and_drops_its_caches_and_timeline(
    worker: FastAPI, stand_in: StandInServer, redis: Redis, channel: AbstractChannel
) -> None:
    gone = 9_100_001
    await build_timelines(redis, [gone])
    await redis.set(user_cache_key(gone), b"{}")
    await redis.hset(following_key(gone), mapping={"v": "10", "set": "[]"})
    before = metric("feedline_fanout_events_total", type="user.deleted", outcome="ok")
    deleted = UserDeleted(user_id=gone)
    event_id = uuid.uuid4()
    await publish(channel, deleted, event_id=event_id)
    await publish(channel, deleted, event_id=event_id)  # redelivered: the same end state
    await _consumed("user.deleted", 2, before)
    assert stand_in.state.erased[0] == gone
    assert set(stand_in.state.erased) == {gone}
    assert await redis.exists(deleted_user_key(gone))
    assert not await redis.exists(user_cache_key(gone))
    assert await redis.hget(following_key(gone), "set") is None
    assert not (await TimelineStore(redis).read(gone, before=None, count=10)).built


async def test_events_of_a_deleted_author_are_done_not_dead_lettered(
    worker: FastAPI, stand_in: StandInServer, redis: Redis, channel: AbstractChannel
) -> None:
    gone = 9_100_002
    stand_in.state.deleted_users.add(gone)
    await build_timelines(redis, [gone])
    created = metric("feedline_fanout_events_total", type="post.created", outcome="ok")
    deleted = metric("feedline_fanout_events_total", type="post.deleted", outcome="ok")
    dead = metric("feedline_fanout_events_total", type="post.deleted", outcome="dead")
    now = datetime.now(UTC)
    # The erasure's post.deleted, and a post.created still in flight when the account went.
    await publish(channel, PostCreated(post_id=9_100_100, author_id=gone, created_at=now))
    await publish(channel, PostDeleted(post_id=9_100_101, author_id=gone))
    await _consumed("post.created", 1, created)
    await _consumed("post.deleted", 1, deleted)
    assert metric("feedline_fanout_events_total", type="post.deleted", outcome="dead") == dead


@pytest.mark.parametrize("pages_carry_the_count", [True, False], ids=["count", "no-count"])
async def test_celebrity_posts_reach_only_the_authors_own_timeline(
    stand_in: StandInServer,
    redis: Redis,
    channel: AbstractChannel,
    settings: Settings,
    pages_carry_the_count: bool,
) -> None:
    # Without the count: a user-service of the previous release (max_followers ignored too).
    stand_in.state.pages_without_count = not pages_carry_the_count
    celebrity, regular = 9_200_001, 9_200_002
    followers = list(range(9_300_000, 9_300_030))
    stand_in.state.followers[celebrity] = followers
    stand_in.state.followers[regular] = followers[:20]
    await build_timelines(redis, [*followers, celebrity])
    narrow = settings.model_copy(update={"celebrity_follower_threshold": 25})
    async with running_worker(narrow):
        now = datetime.now(UTC)
        await publish(channel, PostCreated(post_id=71, author_id=celebrity, created_at=now))
        await publish(channel, PostCreated(post_id=72, author_id=regular, created_at=now))

        async def regular_delivered() -> bool:
            return await holders(redis, followers[:20], 72) == 20

        await wait_for(regular_delivered, what="the regular author's post")
        await wait_for(lambda: has_post(redis, celebrity, 71), what="the celebrity's own timeline")
    assert await holders(redis, followers, 71) == 0
    requests = stand_in.state.requests
    assert requests["follower_ids"] == 2, "one page request per post"
    if pages_carry_the_count:
        # The celebrity's page came back empty with the count; no count took a call of its own.
        assert (requests["follower_ids_over_max"], requests["users_batch"]) == (1, 0)
    else:
        assert requests["users_batch"] == 2, "the count asked for separately"
