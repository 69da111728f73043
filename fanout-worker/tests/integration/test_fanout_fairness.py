"""A small author's post is not held up behind a large fan-out in progress."""

from __future__ import annotations

from datetime import UTC, datetime

from aio_pika.abc import AbstractChannel
from fanout_standins import StandInServer
from fanout_support import build_timelines, has_post, holders, publish, wait_for
from fastapi import FastAPI
from redis.asyncio import Redis

from feedline_shared.events import PostCreated

BIG_AUTHOR, SMALL_AUTHOR = 10_000_001, 10_000_002
BIG_FOLLOWERS = list(range(11_000_000, 11_010_000))
SMALL_FOLLOWERS = list(range(12_000_000, 12_000_010))
BIG_POST, SMALL_POST = 777_000_000_001, 777_000_000_002
PAGE_DELAY_SECONDS = 0.15


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
