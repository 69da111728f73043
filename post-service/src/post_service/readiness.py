"""Readiness checks of post-service's dependencies: PostgreSQL, Redis, RabbitMQ."""

from __future__ import annotations

import contextlib

import aio_pika
from aio_pika.abc import AbstractConnection
from sqlalchemy import text

from feedline_shared.broker import CONNECT_TIMEOUT_SECONDS
from feedline_shared.db import Database
from feedline_shared.health import ReadinessCheck
from feedline_shared.redis import AnyRedis


def postgres_check(database: Database) -> ReadinessCheck:
    async def check() -> None:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return check


def redis_check(redis: AnyRedis) -> ReadinessCheck:
    async def check() -> None:
        await redis.ping()

    return check


class BrokerProbe:
    """Keeps one plain connection to answer "is RabbitMQ up?" without reconnecting each time.

    Created lazily: the service starts, and accepts posts, while RabbitMQ is down.
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
            # Start from a new connection next time rather than waiting on a broken one.
            await self.close()
            raise

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
