"""What happens to a message whose handler failed: a delayed retry, or the dead-letter queue.

Attempts are counted in the ``x-attempt`` header (absent on the first delivery). A failed
attempt is republished to the next retry queue with publisher confirms *before* the original is
acknowledged, so a crash in between duplicates the message rather than losing it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from fanout_worker.publisher import Publisher
from fanout_worker.topology import DLQ, retry_queue

ATTEMPT_HEADER = "x-attempt"
ORIGIN_HEADER = "x-origin-queue"
REASON_HEADER = "x-death-reason"
FAILED_AT_HEADER = "x-failed-at"
LAST_ERROR_HEADER = "x-last-error"
MAX_REASON_CHARS = 500

Outcome = Literal["retry", "dead"]

#: Whether the message being handled is on its first delivery: never handled before, as far as
#: the broker and the retry path know. False outside a consumer, the safe answer.
first_delivery: ContextVar[bool] = ContextVar("first_delivery", default=False)


def is_first_delivery(message: AbstractIncomingMessage) -> bool:
    """Neither redelivered by the broker (a consumer stopped before settling it) nor a copy
    made by the retry path or a dead-letter replay (both carry the origin queue header)."""
    return not message.redelivered and ORIGIN_HEADER not in (message.headers or {})


def attempt_of(headers: Mapping[str, object] | None) -> int:
    """The 1-based delivery attempt recorded on a message (1 when absent or malformed)."""
    raw = (headers or {}).get(ATTEMPT_HEADER)
    try:
        return max(1, int(raw))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1


def retry_delay_ms(attempt: int, delays_ms: Sequence[int], max_attempts: int) -> int | None:
    """The back-off before the attempt after ``attempt``; None when no attempt is left."""
    if attempt >= max_attempts:
        return None
    return delays_ms[min(attempt - 1, len(delays_ms) - 1)]


def copy_message(message: AbstractIncomingMessage, headers: dict[str, object]) -> aio_pika.Message:
    return aio_pika.Message(
        message.body,
        headers=headers,  # type: ignore[arg-type]
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        timestamp=message.timestamp,
        correlation_id=message.correlation_id,
    )


class Redelivery:
    def __init__(
        self, publisher: Publisher, *, retry_delays_ms: Sequence[int], max_attempts: int
    ) -> None:
        self.publisher = publisher
        self.retry_delays_ms = list(retry_delays_ms)
        self.max_attempts = max_attempts

    async def fail(self, message: AbstractIncomingMessage, origin: str, reason: str) -> Outcome:
        """Schedules another attempt, or dead-letters the message when attempts are spent."""
        attempt = attempt_of(message.headers)
        delay = retry_delay_ms(attempt, self.retry_delays_ms, self.max_attempts)
        if delay is None:
            await self.dead_letter(message, origin, reason)
            return "dead"
        headers = dict(message.headers or {})
        headers.update(
            {
                ATTEMPT_HEADER: attempt + 1,
                ORIGIN_HEADER: origin,
                LAST_ERROR_HEADER: reason[:MAX_REASON_CHARS],
            }
        )
        # The routing key is the origin queue: the retry queue dead-letters to the default
        # exchange with it once the delay has passed.
        await self.publisher.to_exchange(retry_queue(delay), origin, copy_message(message, headers))
        return "retry"

    async def dead_letter(self, message: AbstractIncomingMessage, origin: str, reason: str) -> None:
        headers = dict(message.headers or {})
        headers.pop(LAST_ERROR_HEADER, None)
        headers.update(
            {
                ATTEMPT_HEADER: attempt_of(message.headers),
                ORIGIN_HEADER: origin,
                REASON_HEADER: reason[:MAX_REASON_CHARS],
                FAILED_AT_HEADER: datetime.now(UTC).isoformat(timespec="milliseconds"),
            }
        )
        await self.publisher.to_queue(DLQ, copy_message(message, headers))
