"""A small author's post is not held up behind a large fan-out in progress."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aio_pika.abc import AbstractChannel
from fanout_standins import StandInServer
from fanout_support import build_timelines, has_post, holders, publish, wait_for
from fastapi import FastAPI
from redis.asyncio import Redis

from fanout_worker.settings import Settings
from feedline_shared.events import PostCreated

BIG_AUTHOR, SMALL_AUTHOR = 10_000_001, 10_000_002
BIG_FOLLOWERS = list(range(11_000_000, 11_010_000))
SMALL_FOLLOWERS = list(range(12_000_000, 12_000_010))
BIG_POST, SMALL_POST = 777_000_000_001, 777_000_000_002
PAGE_DELAY_SECONDS = 0.15
#: Pages small enough that every large fan-out here spans several.
CHUNK_SIZE = 2000


@pytest.fixture
def settings(stand_in: StandInServer) -> Settings:
    return Settings(
        user_service_url=stand_in.url, post_service_url=stand_in.url, fanout_chunk_size=CHUNK_SIZE
    )


async def test_small_authors_post_overtakes_a_large_fan_out_in_progress(
    worker: FastAPI, stand_in: StandInServer, redis: Redis, channel: AbstractChannel
) -> None:
    stand_in.state.followers[BIG_AUTHOR] = BIG_FOLLOWERS
    stand_in.state.followers[SMALL_AUTHOR] = SMALL_FOLLOWERS
    stand_in.state.page_delay[BIG_AUTHOR] = PAGE_DELAY_SECONDS
    await build_timelines(redis, BIG_FOLLOWERS + SMALL_FOLLOWERS)
    now = datetime.now(UTC)

    await publish(channel, PostCreated(post_id=BIG_POST, author_id=BIG_AUTHOR, created_at=now))
    await wait_for(lambda: has_post(redis, BIG_FOLLOWERS[0], BIG_POST), what="the first page")
    await publish(channel, PostCreated(post_id=SMALL_POST, author_id=SMALL_AUTHOR, created_at=now))

    async def small_delivered() -> bool:
        return await holders(redis, SMALL_FOLLOWERS, SMALL_POST) == len(SMALL_FOLLOWERS)

    await wait_for(small_delivered, what="the small author's post")
    big_progress = await holders(redis, BIG_FOLLOWERS, BIG_POST)
    assert big_progress < len(BIG_FOLLOWERS), "the large fan-out was still in progress"

    await wait_for(
        lambda: has_post(redis, BIG_FOLLOWERS[-1], BIG_POST), what="the large fan-out to end"
    )
    assert await holders(redis, BIG_FOLLOWERS, BIG_POST) == len(BIG_FOLLOWERS)


#: More large posts than the events queue's prefetch: with every consumer slot busy on a whole
#: large fan-out (the naive design), the small post could only start once most of them ended.
MANY_BIG = 40
MANY_BIG_AUTHORS = [10_100_000 + i for i in range(MANY_BIG)]
MANY_BIG_POSTS = [777_100_000_000 + i for i in range(MANY_BIG)]
SHARED_FOLLOWERS = list(range(13_000_000, 13_004_000))
LATE_POST = 777_200_000_001


async def test_small_post_is_not_queued_behind_many_large_fan_outs(
    worker: FastAPI, stand_in: StandInServer, redis: Redis, channel: AbstractChannel
) -> None:
    for author in MANY_BIG_AUTHORS:
        stand_in.state.followers[author] = SHARED_FOLLOWERS
        stand_in.state.page_delay[author] = PAGE_DELAY_SECONDS
    stand_in.state.followers[SMALL_AUTHOR] = SMALL_FOLLOWERS
    await build_timelines(redis, SHARED_FOLLOWERS + SMALL_FOLLOWERS)
    now = datetime.now(UTC)
    for author, post in zip(MANY_BIG_AUTHORS, MANY_BIG_POSTS, strict=True):
        await publish(channel, PostCreated(post_id=post, author_id=author, created_at=now))
    await publish(channel, PostCreated(post_id=LATE_POST, author_id=SMALL_AUTHOR, created_at=now))

    async def finished_big() -> int:
        # Pages go in ascending follower order: the last follower is written last.
        return sum([await has_post(redis, SHARED_FOLLOWERS[-1], p) for p in MANY_BIG_POSTS])

    async def small_delivered() -> bool:
        return await holders(redis, SMALL_FOLLOWERS, LATE_POST) == len(SMALL_FOLLOWERS)

    await wait_for(small_delivered, what="the small author's post")
    # Only each large post's first page runs on the events queue; the rest waits in the
    # chunks queue, so few (if any) large fan-outs are done when the small post is.
    assert await finished_big() <= MANY_BIG // 2

    async def all_finished() -> bool:
        return await finished_big() == MANY_BIG

    await wait_for(all_finished, what="every large fan-out to end", within=60)
