"""post.created and post.deleted across 10,000 followers, with inactive followers skipped."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime

from aio_pika.abc import AbstractChannel
from fanout_standins import StandInServer
from fanout_support import (
    build_timelines,
    has_post,
    holders,
    metric,
    publish,
    queue_depth,
    timelines_of,
    wait_for,
)
from fastapi import FastAPI
from redis.asyncio import Redis

from fanout_worker.topology import CHUNKS_QUEUE, EVENTS_QUEUE
from feedline_shared.events import PostCreated, PostDeleted
from feedline_shared.timelines import TimelineStore

logger = logging.getLogger(__name__)

AUTHOR = 7_000_001
ACTIVE = list(range(1_000_000, 1_010_000))
INACTIVE = list(range(2_000_000, 2_000_500))
POST = 555_000_000_001


async def test_post_reaches_every_built_follower_once_and_deletion_removes_it(
    worker: FastAPI, stand_in: StandInServer, redis: Redis, channel: AbstractChannel
) -> None:
    stand_in.state.followers[AUTHOR] = sorted(ACTIVE + INACTIVE)
    await build_timelines(redis, [*ACTIVE, AUTHOR])
    event_id = uuid.uuid4()
    created = PostCreated(post_id=POST, author_id=AUTHOR, created_at=datetime.now(UTC))
    lag_before = metric("feedline_fanout_delivery_lag_seconds_count")

    started = time.perf_counter()
    await publish(channel, created, event_id=event_id)
    await wait_for(
        lambda: has_post(redis, ACTIVE[-1], POST), within=30, what="the last follower's timeline"
    )
    elapsed = time.perf_counter() - started
    logger.warning("fan-out to %d followers took %.2f s", len(ACTIVE), elapsed)

    assert await holders(redis, ACTIVE, POST) == len(ACTIVE)
    assert await has_post(redis, AUTHOR, POST), "the author's own timeline"
    store = TimelineStore(redis)
    inactive_keys = [store.timeline_key(u) for u in INACTIVE] + [
        store.meta_key(u) for u in INACTIVE
    ]
    assert await redis.exists(*inactive_keys) == 0, "inactive followers are skipped"

    async def lag_observed() -> bool:
        return metric("feedline_fanout_delivery_lag_seconds_count") == lag_before + 1

    await wait_for(lag_observed, what="the delivery lag to be recorded once")

    # The same event delivered again leaves exactly one entry per timeline.
    processed = metric("feedline_fanout_events_total", type="post.created", outcome="ok")
    await publish(channel, created, event_id=event_id)

    async def redelivery_handled() -> bool:
        done = metric("feedline_fanout_events_total", type="post.created", outcome="ok")
        if done <= processed:
            return False
        return (
            await queue_depth(channel, EVENTS_QUEUE) + await queue_depth(channel, CHUNKS_QUEUE) == 0
        )

    await wait_for(redelivery_handled, what="the redelivered event")
    await wait_for(
        lambda: _chunks_settled(worker), what="the redelivered event's chunks", within=10
    )
    assert all(timeline == [POST] for timeline in await timelines_of(redis, ACTIVE))

    await publish(channel, PostDeleted(post_id=POST, author_id=AUTHOR))

    async def gone() -> bool:
        return await holders(redis, [ACTIVE[0], ACTIVE[-1], AUTHOR], POST) == 0

    await wait_for(gone, what="the deleted post to leave every timeline")
    assert await holders(redis, [*ACTIVE, AUTHOR], POST) == 0


async def _chunks_settled(worker: FastAPI) -> bool:
    depths = await worker.state.worker.refresh_queue_depths()
    in_flight = sum(c.in_flight for c in worker.state.worker.consumers)
    return depths[CHUNKS_QUEUE] == 0 and in_flight == 0
