"""The worker's RabbitMQ queues, declared idempotently at start-up.

Retries: each delay has a fanout exchange and a queue of the same name,
``fanout-worker.retry.<ms>``. A failed message is published to that exchange with the routing
key of the queue it came from; the queue holds it for ``x-message-ttl`` ms, then dead-letters it
to the default exchange, which (no fixed dead-letter routing key) reuses that routing key and so
delivers it back to its origin queue. The origin queue also travels in ``x-origin-queue``.
"""

from __future__ import annotations

from collections.abc import Sequence

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractQueue

from feedline_shared.broker import declare_events_exchange

EVENTS_QUEUE = "fanout-worker.events"
CHUNKS_QUEUE = "fanout-worker.chunks"
DLQ = "fanout-worker.dlq"
RETRY_PREFIX = "fanout-worker.retry."
EVENT_BINDINGS = ("post.#", "user.#")


def retry_queue(delay_ms: int) -> str:
    return f"{RETRY_PREFIX}{delay_ms}"


def all_queues(retry_delays_ms: Sequence[int]) -> list[str]:
    return [EVENTS_QUEUE, CHUNKS_QUEUE, DLQ, *(retry_queue(d) for d in retry_delays_ms)]


async def declare_topology(
    channel: AbstractChannel, events_exchange: str, retry_delays_ms: Sequence[int]
) -> dict[str, AbstractQueue]:
    """Declares the exchange, queues and bindings; returns the queues by name."""
    exchange = await declare_events_exchange(channel, events_exchange)
    events = await channel.declare_queue(EVENTS_QUEUE, durable=True)
    for binding in EVENT_BINDINGS:
        await events.bind(exchange, routing_key=binding)
    queues = {
        EVENTS_QUEUE: events,
        CHUNKS_QUEUE: await channel.declare_queue(CHUNKS_QUEUE, durable=True),
        DLQ: await channel.declare_queue(DLQ, durable=True),
    }
    for delay in dict.fromkeys(retry_delays_ms):
        name = retry_queue(delay)
        retry_exchange = await channel.declare_exchange(
            name, aio_pika.ExchangeType.FANOUT, durable=True
        )
        queue = await channel.declare_queue(
            name,
            durable=True,
            arguments={"x-message-ttl": delay, "x-dead-letter-exchange": ""},
        )
        await queue.bind(retry_exchange)
        queues[name] = queue
    return queues
