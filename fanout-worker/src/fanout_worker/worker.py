"""The worker's RabbitMQ side: connection, topology, the two consumers, queue depth gauges.

Each consumer has its own channel and prefetch, so the chunks of a large fan-out (small prefetch)
never hold up the events queue. Publishing (chunks, retries, dead letters) uses a third channel
with publisher confirms. ``stop`` cancels the consumers, waits for in-flight deliveries, closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aio_pika.abc import AbstractChannel, AbstractQueue, AbstractRobustConnection

from fanout_worker.consumer import Consumer
from fanout_worker.messagebus import MessageBus
from fanout_worker.messages import decode_chunk, decode_event
from fanout_worker.metrics import QUEUE_DEPTH
from fanout_worker.publisher import BROKER_ERRORS, Publisher
from fanout_worker.redelivery import Redelivery
from fanout_worker.settings import Settings
from fanout_worker.topology import CHUNKS_QUEUE, DLQ, EVENTS_QUEUE, declare_topology
from feedline_shared.broker import connect

logger = logging.getLogger(__name__)

MAX_CONNECT_BACKOFF_SECONDS = 10.0
DEPTH_QUEUES = (EVENTS_QUEUE, CHUNKS_QUEUE, DLQ)

BusFactory = Callable[[Publisher], MessageBus]


class Worker:
    def __init__(self, settings: Settings, bus_factory: BusFactory) -> None:
        self.settings = settings
        self.bus_factory = bus_factory
        self.connection: AbstractRobustConnection | None = None
        self.consumers: list[Consumer] = []
        self._subscriptions: list[tuple[AbstractQueue, str]] = []
        self._probe_channel: AbstractChannel | None = None
        self._start_task: asyncio.Task[None] | None = None
        self._depth_task: asyncio.Task[None] | None = None
        self.consuming = asyncio.Event()

    def start(self) -> None:
        """Connects and starts consuming in the background, retrying until RabbitMQ answers."""
        self._start_task = asyncio.create_task(self._connect_and_consume())

    async def check_ready(self) -> None:
        """Readiness: consuming on an open connection."""
        if not self.consuming.is_set() or self.connection is None or self.connection.is_closed:
            raise ConnectionError("not consuming from RabbitMQ")

    async def _connect_and_consume(self) -> None:
        backoff = 0.5
        while True:
            try:
                self.connection = await connect(self.settings.amqp_url)
                break
            except BROKER_ERRORS as exc:
                logger.warning("RabbitMQ unavailable, retrying in %.1f s: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_CONNECT_BACKOFF_SECONDS)
        try:
            await self._consume(self.connection)
        except Exception:  # reported; /readyz stays failing until a restart
            logger.exception("could not start consuming")

    async def _consume(self, connection: AbstractRobustConnection) -> None:
        settings = self.settings
        publish_channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await declare_topology(publish_channel, settings.events_exchange, settings.retry_delays_ms)
        publisher = Publisher(publish_channel)
        bus = self.bus_factory(publisher)
        redelivery = Redelivery(
            publisher, retry_delays_ms=settings.retry_delays_ms, max_attempts=settings.max_attempts
        )
        for queue_name, decode, prefetch in (
            (EVENTS_QUEUE, decode_event, settings.events_prefetch),
            (CHUNKS_QUEUE, decode_chunk, settings.chunks_prefetch),
        ):
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=prefetch)
            queue = await channel.declare_queue(queue_name, durable=True)
            consumer = Consumer(queue_name, decode, bus, redelivery)
            tag = await queue.consume(consumer.on_message)
            self.consumers.append(consumer)
            self._subscriptions.append((queue, tag))
        self._probe_channel = await connection.channel()
        self._depth_task = asyncio.create_task(self._refresh_depths())
        self.consuming.set()
        logger.info("consuming", extra={"queues": [EVENTS_QUEUE, CHUNKS_QUEUE]})

    async def _refresh_depths(self) -> None:
        while True:
            try:
                await self.refresh_queue_depths()
            except Exception:  # gauges only: never let a probe failure stop the loop
                logger.debug("queue depth probe failed", exc_info=True)
            await asyncio.sleep(self.settings.queue_depth_interval_seconds)

    async def refresh_queue_depths(self) -> dict[str, int]:
        """Reads the ready-message counts with passive declares and updates the gauges."""
        depths: dict[str, int] = {}
        if self._probe_channel is None:
            return depths
        for name in DEPTH_QUEUES:
            # robust=False: a robust channel answers repeated passive declares from a cache.
            queue = await self._probe_channel.declare_queue(name, passive=True, robust=False)
            count = queue.declaration_result.message_count or 0
            QUEUE_DEPTH.labels(name).set(count)
            depths[name] = count
        return depths

    async def stop(self) -> None:
        """Stops consuming, lets in-flight deliveries finish (bounded), closes the connection."""
        self.consuming.clear()
        for task in (self._start_task, self._depth_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for consumer in self.consumers:
            consumer.stopping = True
        for queue, tag in self._subscriptions:
            with contextlib.suppress(*BROKER_ERRORS):
                await queue.cancel(tag)
        for consumer in self.consumers:
            if not await consumer.drain(self.settings.shutdown_timeout_seconds):
                logger.warning("stopped with deliveries still in flight; they will be redelivered")
        if self.connection is not None:
            with contextlib.suppress(*BROKER_ERRORS):
                await self.connection.close()
