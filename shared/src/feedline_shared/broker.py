"""RabbitMQ connection and the events exchange every publisher and consumer agrees on."""

from __future__ import annotations

import contextlib

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractRobustConnection,
)

CONNECT_TIMEOUT_SECONDS = 5.0


async def connect(amqp_url: str) -> AbstractRobustConnection:
    return await aio_pika.connect_robust(amqp_url, timeout=CONNECT_TIMEOUT_SECONDS)


async def declare_events_exchange(channel: AbstractChannel, name: str) -> AbstractExchange:
    return await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)


class BrokerProbe:
    """Answers "is RabbitMQ up?" for readiness with one plain (non-robust) connection.

    Created lazily, so a service starts (and keeps accepting writes into its outbox) while
    RabbitMQ is down; a plain connection reports closed when the broker goes, where a robust one
    would hide it behind reconnects.
    """

    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url
        self._connection: AbstractConnection | None = None

    async def check(self) -> None:
        if self._connection is None or self._connection.is_closed:
            self._connection = await aio_pika.connect(
                self.amqp_url, timeout=CONNECT_TIMEOUT_SECONDS
            )
        try:
            # Opening a channel is a round trip: a half-dead connection fails here.
            channel = await self._connection.channel(publisher_confirms=False)
            await channel.close()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
