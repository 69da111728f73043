"""Readiness checks of user-service's own dependencies (post-service is not one: it degrades)."""

from __future__ import annotations

import contextlib

import aio_pika
from aio_pika.abc import AbstractConnection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from feedline_shared.broker import CONNECT_TIMEOUT_SECONDS
from feedline_shared.health import ReadinessCheck


def postgres_check(engine: AsyncEngine) -> ReadinessCheck:
    async def check() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return check


class BrokerProbe:
    """Keeps one plain (non-robust) AMQP connection: it reports closed when the broker goes."""

    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url
        self._connection: AbstractConnection | None = None

    async def check(self) -> None:
        if self._connection is None or self._connection.is_closed:
            self._connection = None
            self._connection = await aio_pika.connect(
                self.amqp_url, timeout=CONNECT_TIMEOUT_SECONDS
            )

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
