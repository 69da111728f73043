"""Retries with back-off, the dead-letter queue, replay, poison messages, and which deliveries
count as first ones."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractChannel
from fanout_standins import StandInServer
from fanout_support import build_timelines, has_post, publish, publish_raw, queue_depth, wait_for
from fastapi import FastAPI
from redis.asyncio import Redis

from fanout_worker import dlq
from fanout_worker.redelivery import ORIGIN_HEADER, is_first_delivery
from fanout_worker.settings import Settings
from fanout_worker.topology import DLQ, EVENTS_QUEUE
from feedline_shared.events import EventEnvelope, PostCreated

AUTHOR = 8_000_001
FOLLOWERS = [8_100_001, 8_100_002, 8_100_003]
POST = 666_000_000_001


async def test_failing_dependency_is_retried_then_dead_lettered_and_replay_recovers(
    worker: FastAPI,
    stand_in: StandInServer,
    redis: Redis,
    channel: AbstractChannel,
    settings: Settings,
) -> None:
    stand_in.state.followers[AUTHOR] = FOLLOWERS
    stand_in.state.failing = True
    await build_timelines(redis, FOLLOWERS)
    envelope = await publish(
        channel, PostCreated(post_id=POST, author_id=AUTHOR, created_at=datetime.now(UTC))
    )

    async def dead() -> bool:
        return await queue_depth(channel, DLQ) == 1

    await wait_for(dead, what="the message to reach the dead-letter queue")
    assert stand_in.state.requests["follower_ids"] == settings.max_attempts
    [dead_message] = await dlq.list_dead(settings)
    assert dead_message.event_id == str(envelope.event_id)
    assert dead_message.type == "post.created"
    assert dead_message.attempts == settings.max_attempts
    assert dead_message.origin == EVENTS_QUEUE
    assert "user-service answered 500" in dead_message.reason
    assert dead_message.failed_at
    assert await queue_depth(channel, DLQ) == 1, "listing leaves the message in place"
    assert not await has_post(redis, FOLLOWERS[0], POST)

    stand_in.state.failing = False
    replayed = await dlq.replay(settings)
    assert [m.event_id for m in replayed] == [str(envelope.event_id)]

    async def delivered() -> bool:
        return all([await has_post(redis, f, POST) for f in FOLLOWERS])

    await wait_for(delivered, what="the replayed post to reach the followers")
    assert await queue_depth(channel, DLQ) == 0
    # A replayed message starts over: one more attempt was enough.
    assert stand_in.state.requests["follower_ids"] == settings.max_attempts + 1


async def test_poison_messages_go_to_the_dead_letter_queue_at_once(
    worker: FastAPI, stand_in: StandInServer, channel: AbstractChannel, settings: Settings
) -> None:
    await publish_raw(channel, b"{not json", "post.created", message_id="m-undecodable")
    unknown = EventEnvelope(type="post.exploded", data={"post_id": 1})
    await publish_raw(
        channel, unknown.to_bytes(), "post.exploded", message_id=str(unknown.event_id)
    )
    invalid = EventEnvelope(type="post.created", data={"post_id": "abc"})
    await publish_raw(channel, invalid.to_bytes(), "post.created", message_id=str(invalid.event_id))

    async def all_dead() -> bool:
        return await queue_depth(channel, DLQ) == 3

    await wait_for(all_dead, what="three poison messages in the dead-letter queue")
    reasons = {m.event_id: m for m in await dlq.list_dead(settings)}
    assert "undecodable event envelope" in reasons["m-undecodable"].reason
    assert reasons[str(unknown.event_id)].reason == "unknown event type 'post.exploded'"
    assert reasons[str(unknown.event_id)].type == "post.exploded"
    assert "invalid post.created payload" in reasons[str(invalid.event_id)].reason
    assert all(m.attempts == 1 for m in reasons.values()), "poison is never retried"
    assert sum(stand_in.state.requests.values()) == 0

    # The command line lists them too and leaves them in place.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fanout_worker.dlq",
        "list",
        "--limit",
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "AMQP_URL": settings.amqp_url},
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, stderr.decode()
    assert stdout.decode().strip().endswith("2 dead message(s) listed")
    assert stdout.decode().count("event_id=") == 2
    assert await queue_depth(channel, DLQ) == 3


def test_dead_message_description_reads_the_body_when_properties_are_missing() -> None:
    event_id = uuid.uuid4()

    class Incoming:
        message_id = None
        type = None
        headers = {"x-death-reason": "boom", "x-attempt": 5}
        body = EventEnvelope(event_id=event_id, type="user.updated", data={}).to_bytes()

    described = dlq.describe(Incoming())  # type: ignore[arg-type]
    assert (described.event_id, described.type, described.attempts) == (
        str(event_id),
        "user.updated",
        5,
    )
    assert described.origin == EVENTS_QUEUE


async def test_only_a_message_never_handled_before_is_a_first_delivery(
    channel: AbstractChannel,
) -> None:
    queue = await channel.declare_queue(f"first-delivery-{uuid.uuid4().hex}", auto_delete=True)
    await channel.default_exchange.publish(aio_pika.Message(b"new"), routing_key=queue.name)
    await channel.default_exchange.publish(
        aio_pika.Message(b"retried", headers={ORIGIN_HEADER: EVENTS_QUEUE}),
        routing_key=queue.name,
    )
    fresh = await queue.get(timeout=5)
    assert is_first_delivery(fresh)
    retried = await queue.get(timeout=5)
    assert not is_first_delivery(retried)
    await fresh.nack(requeue=True)  # as when a consumer stops before settling it
    redelivered = await queue.get(timeout=5)
    assert redelivered.body == b"new" and not is_first_delivery(redelivered)
    await redelivered.ack()
    await retried.ack()
