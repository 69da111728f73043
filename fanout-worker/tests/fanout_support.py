"""Helpers the fanout worker's tests share: event publishing, Redis probes, polling."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel
from fastapi import FastAPI
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from fanout_worker.app import create_app
from fanout_worker.redelivery import first_delivery
from fanout_worker.settings import Settings
from fanout_worker.topology import DLQ
from feedline_shared.events import EventData, EventEnvelope
from feedline_shared.timelines import TimelineStore, decode_member, encode_member

DEFAULT_DEADLINE_SECONDS = 15.0


async def wait_for(
    condition: Callable[[], Awaitable[bool]],
    *,
    within: float = DEFAULT_DEADLINE_SECONDS,
    interval: float = 0.02,
    what: str = "condition",
) -> None:
    """Polls ``condition`` until it holds; fails the test at the deadline."""
    deadline = time.monotonic() + within
    while True:
        if await condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[FastAPI]:
    """The worker app with its lifespan running in this event loop, consuming."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        worker = app.state.worker
        await asyncio.wait_for(worker.consuming.wait(), DEFAULT_DEADLINE_SECONDS)
        yield app


async def publish(
    channel: AbstractChannel, data: EventData, *, event_id: uuid.UUID | None = None
) -> EventEnvelope:
    """Publishes an event the way the outbox relay does."""
    envelope = EventEnvelope.wrap(data)
    if event_id is not None:
        envelope = envelope.model_copy(update={"event_id": event_id})
    await publish_raw(channel, envelope.to_bytes(), data.type, message_id=str(envelope.event_id))
    return envelope


async def publish_raw(
    channel: AbstractChannel, body: bytes, routing_key: str, *, message_id: str | None = None
) -> None:
    exchange = await channel.get_exchange(Settings().events_exchange)
    await exchange.publish(
        aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            type=routing_key,
        ),
        routing_key=routing_key,
        mandatory=True,
    )


@contextlib.contextmanager
def first_delivered() -> Iterator[None]:
    """Handles what runs inside as the consumer handles a message on its first delivery."""
    token = first_delivery.set(True)
    try:
        yield
    finally:
        first_delivery.reset(token)


async def build_timelines(redis: Redis, user_ids: Iterable[int]) -> None:
    """Marks timelines as built (read recently), as feed-service's rebuild does."""
    store = TimelineStore(redis)
    pipe = redis.pipeline(transaction=False)
    for user_id in user_ids:
        pipe.hset(store.meta_key(user_id), "built", "1")
    await pipe.execute()


async def timelines_of(redis: Redis, user_ids: list[int]) -> list[list[int]]:
    """Each user's timeline as post ids, oldest first."""
    store = TimelineStore(redis)
    pipe = redis.pipeline(transaction=False)
    for user_id in user_ids:
        pipe.lrange(store.timeline_key(user_id), 0, -1)
    # Lists hold the newest first (timelines.py).
    return [[decode_member(m) for m in reversed(members)] for members in await pipe.execute()]


async def holders(redis: Redis, user_ids: list[int], post_id: int) -> int:
    """How many of ``user_ids`` have ``post_id`` on their timeline."""
    store = TimelineStore(redis)
    member = encode_member(post_id)
    pipe = redis.pipeline(transaction=False)
    for user_id in user_ids:
        pipe.lpos(store.timeline_key(user_id), member)
    return sum(1 for index in await pipe.execute() if index is not None)


async def has_post(redis: Redis, user_id: int, post_id: int) -> bool:
    store = TimelineStore(redis)
    return await redis.lpos(store.timeline_key(user_id), encode_member(post_id)) is not None


async def queue_depth(channel: AbstractChannel, name: str = DLQ) -> int:
    queue = await channel.declare_queue(name, passive=True, robust=False)
    return queue.declaration_result.message_count or 0


def metric(name: str, **labels: Any) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
