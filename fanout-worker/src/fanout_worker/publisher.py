"""Publishing with publisher confirms: a publish returns only once RabbitMQ holds the message."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange

PUBLISH_TIMEOUT_SECONDS = 5.0

#: What a lost connection or channel raises; the broker redelivers unsettled messages.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    aio_pika.exceptions.AMQPError,
    aio_pika.exceptions.ChannelInvalidStateError,
    OSError,
    TimeoutError,
)


class Publisher:
    """Publishes persistent messages on a confirming channel; unroutable messages raise."""

    def __init__(self, channel: AbstractChannel) -> None:
        self.channel = channel
        self._exchanges: dict[str, AbstractExchange] = {}

    async def to_queue(self, queue: str, message: aio_pika.Message) -> None:
        await self.channel.default_exchange.publish(
            message, routing_key=queue, mandatory=True, timeout=PUBLISH_TIMEOUT_SECONDS
        )

    async def to_exchange(self, exchange: str, routing_key: str, message: aio_pika.Message) -> None:
        target = self._exchanges.get(exchange)
        if target is None:
            target = await self.channel.get_exchange(exchange, ensure=False)
            self._exchanges[exchange] = target
        await target.publish(
            message, routing_key=routing_key, mandatory=True, timeout=PUBLISH_TIMEOUT_SECONDS
        )
