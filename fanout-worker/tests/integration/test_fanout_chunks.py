"""One chunk of a large fan-out: its successor is queued before its page is written, a retry of
the chunk never queues the rest of the fan-out a second time, and only pages on their first
delivery push without reading timeline heads (the high-water mark's claim)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from fanout_standins import StandInServer
from fanout_support import (
    build_timelines,
    first_delivered,
    holders,
    metric,
    queue_depth,
    running_worker,
    wait_for,
)
from redis.asyncio import Redis

from fanout_worker.fanout import FanOut, chunk_markers
from fanout_worker.messages import ChunkTask
from fanout_worker.publisher import Publisher
from fanout_worker.settings import Settings
from fanout_worker.topology import CHUNKS_QUEUE, declare_topology
from feedline_shared.clients import UserServiceClient
from feedline_shared.http import create_internal_client
from feedline_shared.timeline_mark import mark_key
from feedline_shared.timelines import DEFAULT_PREFIX, TimelineStore, decode_member, encode_member

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


async def _queued_tasks(channel: AbstractChannel) -> list[ChunkTask]:
    queue = await channel.declare_queue(CHUNKS_QUEUE, passive=True, robust=False)
    tasks = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        tasks.append(ChunkTask.model_validate_json(message.body))
    return tasks


async def _queued_cursors(channel: AbstractChannel) -> list[str]:
    return [task.cursor for task in await _queued_tasks(channel)]


#: Newer than POST, and put where no writer sees it, so the mark does not know it.
UNSEEN = POST * 2


async def _plant_unseen_head(redis: Redis, user_id: int) -> None:
    await redis.lpush(TimelineStore(redis).timeline_key(user_id), encode_member(UNSEEN))


async def _marked_middle_chunk(
    fanout: FanOut, stand_in: StandInServer, redis: Redis
) -> tuple[ChunkTask, str]:
    """The middle page's task and its successor's cursor, with the mark set and an unseen head
    planted on the page's first follower."""
    stand_in.state.followers[AUTHOR] = FOLLOWERS
    await build_timelines(redis, FOLLOWERS)
    assert await fanout.timelines.seed_mark() == "set"
    await _plant_unseen_head(redis, FOLLOWERS[2])
    return await _middle_chunk(fanout)


async def _pushed_blindly(redis: Redis, user_id: int) -> bool:
    """True when POST landed above the planted head (pushed without reading it)."""
    members = await redis.lrange(TimelineStore(redis).timeline_key(user_id), 0, -1)
    assert sorted(decode_member(m) for m in members) == [POST, UNSEEN]
    return decode_member(members[0]) == POST


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


async def test_a_page_on_its_first_delivery_pushes_blindly_and_passes_the_claim_on(
    fanout: FanOut, stand_in: StandInServer, redis: Redis, channel: AbstractChannel
) -> None:
    task, next_cursor = await _marked_middle_chunk(fanout, stand_in, redis)
    claimed = task.model_copy(update={"chain": "chain-1"})

    with first_delivered():
        await fanout.resume(claimed)
    assert await _pushed_blindly(redis, FOLLOWERS[2])
    [successor] = await _queued_tasks(channel)
    assert (successor.cursor, successor.chain) == (next_cursor, "chain-1")
    assert await redis.get(mark_key(DEFAULT_PREFIX)) == encode_member(POST) + b"chain-1"


async def test_a_redelivered_page_reads_heads_and_queues_its_successor_without_the_claim(
    fanout: FanOut, stand_in: StandInServer, redis: Redis, channel: AbstractChannel
) -> None:
    task, next_cursor = await _marked_middle_chunk(fanout, stand_in, redis)
    # The first page, on its first delivery, pushed the post under the fan-out's claim.
    await fanout.timelines.fan_out(FOLLOWERS[:2], POST, claim="chain-1")

    # first_delivery is unset, as for a redelivered or retried message.
    await fanout.resume(task.model_copy(update={"chain": "chain-1"}))
    assert not await _pushed_blindly(redis, FOLLOWERS[2])
    assert await redis.get(mark_key(DEFAULT_PREFIX)) == encode_member(POST), "claim taken away"
    [successor] = await _queued_tasks(channel)
    assert (successor.cursor, successor.chain) == (next_cursor, None)


async def test_a_first_delivery_of_a_post_claims_a_new_chain_and_a_later_one_none(
    fanout: FanOut, stand_in: StandInServer, redis: Redis, channel: AbstractChannel
) -> None:
    stand_in.state.followers[AUTHOR] = FOLLOWERS
    await build_timelines(redis, [AUTHOR, *FOLLOWERS])
    assert await fanout.timelines.seed_mark() == "set"
    await _plant_unseen_head(redis, AUTHOR)
    await _plant_unseen_head(redis, FOLLOWERS[0])
    created = datetime.now(UTC)

    with first_delivered():
        await fanout.add_post("e-1", POST, AUTHOR, created)
    assert await _pushed_blindly(redis, AUTHOR)
    assert await _pushed_blindly(redis, FOLLOWERS[0])
    [first_copy] = await _queued_tasks(channel)
    assert first_copy.chain

    # The same event again (published twice, or redelivered): no claim, and heads are read.
    await fanout.add_post("e-1", POST, AUTHOR, created)
    [second_copy] = await _queued_tasks(channel)
    assert second_copy.chain is None
    assert await holders(redis, FOLLOWERS[:2], POST) == 2
    assert await redis.lrange(TimelineStore(redis).timeline_key(FOLLOWERS[1]), 0, -1) == [
        encode_member(POST)
    ]


async def test_a_fan_out_that_finds_no_mark_sets_it_again(
    fanout: FanOut, stand_in: StandInServer, redis: Redis
) -> None:
    stand_in.state.followers[AUTHOR] = FOLLOWERS[:2]
    await build_timelines(redis, FOLLOWERS)
    assert await redis.get(mark_key(DEFAULT_PREFIX)) is None
    seeds = metric("feedline_fanout_mark_seeds_total", outcome="set")
    await fanout.add_post("e-1", POST, AUTHOR, datetime.now(UTC))
    assert await fanout.wait_for_mark()
    assert metric("feedline_fanout_mark_seeds_total", outcome="set") == seeds + 1
    assert await redis.get(mark_key(DEFAULT_PREFIX)) == encode_member(POST)
    assert fanout.timelines.mark_present


async def test_a_worker_starting_on_a_redis_without_the_mark_sets_it(
    settings: Settings, redis: Redis
) -> None:
    await redis.rpush(TimelineStore(redis).timeline_key(FOLLOWERS[0]), encode_member(POST))
    async with running_worker(settings):

        async def marked() -> bool:
            return await redis.get(mark_key(DEFAULT_PREFIX)) == encode_member(POST)

        await wait_for(marked, what="the high-water mark set at start")
