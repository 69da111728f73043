"""RabbitMQ connection and the events exchange every publisher and consumer agrees on."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

CONNECT_TIMEOUT_SECONDS = 5.0


async def connect(amqp_url: str) -> AbstractRobustConnection:
    return await aio_pika.connect_robust(amqp_url, timeout=CONNECT_TIMEOUT_SECONDS)


async def declare_events_exchange(channel: AbstractChannel, name: str) -> AbstractExchange:
    return await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
