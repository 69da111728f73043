"""One chunk of a large fan-out: its successor is queued before its page is written, and a retry
of the chunk never queues the rest of the fan-out a second time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from fanout_standins import StandInServer
from fanout_support import build_timelines, holders, queue_depth
from redis.asyncio import Redis

from fanout_worker.fanout import FanOut, chunk_markers
from fanout_worker.messages import ChunkTask
from fanout_worker.publisher import Publisher
from fanout_worker.settings import Settings
from fanout_worker.topology import CHUNKS_QUEUE, declare_topology
from feedline_shared.clients import UserServiceClient
from feedline_shared.http import create_internal_client
from feedline_shared.timelines import TimelineStore

AUTHOR = 14_000_001
FOLLOWERS = list(range(14_100_000, 14_100_006))
POST = 999_000_000_001
#: Two followers a page: three pages, so the middle one has a predecessor and a successor.
CHUNK_SIZE = 2


@pytest.fixture
async def fanout(
    settings: Settings, redis: Redis, amqp: AbstractRobustConnection
) -> AsyncIterator[FanOut]:
    channel = await amqp.channel(publisher_confirms=True, on_return_raises=True)
    await declare_topology(channel, settings.events_exchange, settings.retry_delays_ms)
    async with create_internal_client(
        settings.internal_token, settings.internal_timeout_seconds
    ) as http:
        yield FanOut(
            users=UserServiceClient(http, settings.user_service_url),
            timelines=TimelineStore(redis),
            redis=redis,
            publisher=Publisher(channel),
            celebrity_threshold=settings.celebrity_follower_threshold,
            chunk_size=CHUNK_SIZE,
            dedupe_ttl_seconds=settings.dedupe_ttl_seconds,
        )
    await channel.close()


async def _middle_chunk(fanout: FanOut) -> tuple[ChunkTask, str]:
    """The second page's task and the cursor of the third page."""
    cursor = (await fanout.users.follower_page(AUTHOR, cursor=None, limit=CHUNK_SIZE)).next_cursor
    next_cursor = (
        await fanout.users.follower_page(AUTHOR, cursor=cursor, limit=CHUNK_SIZE)
    ).next_cursor
    assert cursor and next_cursor
    task = ChunkTask(event_id="e-1", post_id=POST, author_id=AUTHOR, cursor=cursor, op="add")
    return task, next_cursor


async def _queued_cursors(channel: AbstractChannel) -> list[str]:
    queue = await channel.declare_queue(CHUNKS_QUEUE, passive=True, robust=False)
    cursors = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        cursors.append(ChunkTask.model_validate_json(message.body).cursor)
    return cursors


async def test_a_chunk_whose_write_fails_is_retried_without_queueing_its_successor_again(
    fanout: FanOut, stand_in: StandInServer, redis: Redis, channel: AbstractChannel
) -> None:
    stand_in.state.followers[AUTHOR] = FOLLOWERS
    await build_timelines(redis, FOLLOWERS)
    task, next_cursor = await _middle_chunk(fanout)
    page = FOLLOWERS[2:4]
    # A timeline key of the wrong type makes the page's write fail inside Redis.
    broken = fanout.timelines.timeline_key(page[1])
    await redis.set(broken, b"not a sorted set")

    with pytest.raises(Exception, match="WRONGTYPE"):
        await fanout.resume(task)
    assert await queue_depth(channel, CHUNKS_QUEUE) == 1, "the successor was queued first"
    written_key, queued_key = chunk_markers(task)
    assert await redis.get(written_key) is None
    assert await redis.get(queued_key) == next_cursor.encode()

    await redis.delete(broken)
    await fanout.resume(task)
    assert await holders(redis, page, POST) == len(page)
    assert await redis.get(written_key) is not None
    assert await _queued_cursors(channel) == [next_cursor], "queued once across both attempts"


async def test_a_retried_chunk_queues_a_new_successor_when_the_followers_changed(
    fanout: FanOut, stand_in: StandInServer, redis: Redis, channel: AbstractChannel
) -> None:
    stand_in.state.followers[AUTHOR] = FOLLOWERS
    await build_timelines(redis, FOLLOWERS)
    task, next_cursor = await _middle_chunk(fanout)
    _, queued_key = chunk_markers(task)
    # An earlier attempt queued a successor from a page that has since changed.
    await redis.set(queued_key, b"an-older-cursor")

    await fanout.resume(task)
    assert await _queued_cursors(channel) == [next_cursor]
    assert await holders(redis, FOLLOWERS[2:4], POST) == 2


async def test_a_written_chunk_is_skipped_without_asking_for_its_page(
    fanout: FanOut, stand_in: StandInServer, redis: Redis, channel: AbstractChannel
) -> None:
    stand_in.state.followers[AUTHOR] = FOLLOWERS
    await build_timelines(redis, FOLLOWERS)
    task, _ = await _middle_chunk(fanout)
    written_key, _ = chunk_markers(task)
    await redis.set(written_key, b"1")
    requests = stand_in.state.requests["follower_ids"]

    await fanout.resume(task)
    assert stand_in.state.requests["follower_ids"] == requests
    assert await queue_depth(channel, CHUNKS_QUEUE) == 0
    assert await holders(redis, FOLLOWERS[2:4], POST) == 0
