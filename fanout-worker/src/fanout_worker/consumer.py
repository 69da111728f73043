"""The queue entrypoint: decode a delivery, hand it to the bus, then settle it.

Settling: acknowledged after the handler succeeded; on failure republished to a retry queue (or
the dead-letter queue once attempts are spent) and then acknowledged; poison goes to the
dead-letter queue at once. If even that publish fails the delivery is requeued.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aio_pika.abc import AbstractIncomingMessage

from fanout_worker.messagebus import MessageBus
from fanout_worker.messages import Decoded, PoisonMessage
from fanout_worker.metrics import EVENTS_CONSUMED
from fanout_worker.publisher import BROKER_ERRORS
from fanout_worker.redelivery import (
    Outcome,
    Redelivery,
    attempt_of,
    first_delivery,
    is_first_delivery,
)
from feedline_shared.context import event_id_var
from feedline_shared.problems import Problem

logger = logging.getLogger(__name__)

Decoder = Callable[[bytes], Decoded]
#: The type label of messages that never decoded (their raw type may be anything).
POISON_TYPE = "poison"


def is_permanent(exc: BaseException) -> bool:
    """A failure no retry can fix: another service refused the request itself (4xx)."""
    return isinstance(exc, Problem) and exc.status < 500 and exc.status != 429


def describe(exc: BaseException) -> str:
    detail = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {detail}"


async def _settle(settlement: Awaitable[object]) -> None:
    """Acks or nacks; on a lost channel the broker redelivers, and handlers are idempotent."""
    try:
        await settlement
    except BROKER_ERRORS as exc:
        logger.warning("could not settle delivery, it will be redelivered: %s", exc)


class Consumer:
    def __init__(
        self, queue: str, decode: Decoder, bus: MessageBus, redelivery: Redelivery
    ) -> None:
        self.queue = queue
        self.decode = decode
        self.bus = bus
        self.redelivery = redelivery
        self.stopping = False
        self._in_flight: set[asyncio.Task[object]] = set()

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        if self.stopping:
            # Delivered after the consumer was cancelled: leave it to the next worker.
            await _settle(message.nack(requeue=True))
            return
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await self._process(message)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def drain(self, grace_seconds: float) -> bool:
        """Waits for the deliveries being handled; False when some were still running."""
        pending = {t for t in self._in_flight if t is not asyncio.current_task()}
        if not pending:
            return True
        _, still_running = await asyncio.wait(pending, timeout=grace_seconds)
        return not still_running

    async def _process(self, message: AbstractIncomingMessage) -> None:
        token = event_id_var.set(message.message_id)
        delivery = first_delivery.set(is_first_delivery(message))
        try:
            try:
                decoded = self.decode(message.body)
            except PoisonMessage as exc:
                await self._settle_failure(message, POISON_TYPE, str(exc), True)
                return
            event_id_var.set(decoded.event_id)
            try:
                await self.bus.handle(decoded)
            except Exception as exc:  # noqa: BLE001 - every failure is retried or dead-lettered
                await self._settle_failure(message, decoded.type, describe(exc), is_permanent(exc))
                return
            await _settle(message.ack())
            EVENTS_CONSUMED.labels(decoded.type, "ok").inc()
        finally:
            first_delivery.reset(delivery)
            event_id_var.reset(token)

    async def _settle_failure(
        self, message: AbstractIncomingMessage, kind: str, reason: str, permanent: bool
    ) -> None:
        attempt = attempt_of(message.headers)
        try:
            outcome: Outcome
            if permanent:
                await self.redelivery.dead_letter(message, self.queue, reason)
                outcome = "dead"
            else:
                outcome = await self.redelivery.fail(message, self.queue, reason)
        except Exception:  # the broker itself failed: keep the message
            logger.exception(
                "could not republish failed message, requeueing",
                extra={"queue": self.queue, "type": kind, "reason": reason},
            )
            await _settle(message.nack(requeue=True))
            return
        await _settle(message.ack())
        EVENTS_CONSUMED.labels(kind, outcome).inc()
        log = logger.error if outcome == "dead" else logger.warning
        log(
            "message dead-lettered" if outcome == "dead" else "message scheduled for retry",
            extra={
                "queue": self.queue,
                "type": kind,
                "message_type": message.type,
                "attempt": attempt,
                "reason": reason,
            },
        )
