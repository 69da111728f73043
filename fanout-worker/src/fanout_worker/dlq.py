"""Dead-letter queue tooling.

``python -m fanout_worker.dlq list [--limit N]`` prints each dead message (event id, type, reason,
attempts) and leaves it in place; ``python -m fanout_worker.dlq replay [--limit N]`` moves dead
messages back to the queue they failed on with their attempt count reset. Both print a count and
exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from aio_pika.abc import AbstractIncomingMessage

from fanout_worker.publisher import Publisher
from fanout_worker.redelivery import (
    ATTEMPT_HEADER,
    FAILED_AT_HEADER,
    LAST_ERROR_HEADER,
    ORIGIN_HEADER,
    REASON_HEADER,
    attempt_of,
    copy_message,
)
from fanout_worker.settings import Settings
from fanout_worker.topology import DLQ, EVENTS_QUEUE
from feedline_shared.broker import connect

DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class DeadMessage:
    event_id: str
    type: str
    reason: str
    attempts: int
    origin: str
    failed_at: str


def _header(message: AbstractIncomingMessage, name: str, default: str = "") -> str:
    value = (message.headers or {}).get(name)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return default if value is None else str(value)


def describe(message: AbstractIncomingMessage) -> DeadMessage:
    event_id, kind = message.message_id or "", message.type or ""
    if not event_id or not kind:
        # Poison may lack properties; the body may still name the event.
        try:
            body = orjson.loads(message.body)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            event_id = event_id or str(body.get("event_id", ""))
            kind = kind or str(body.get("type", ""))
    return DeadMessage(
        event_id=event_id or "?",
        type=kind or "?",
        reason=_header(message, REASON_HEADER, "?"),
        attempts=attempt_of(message.headers),
        origin=_header(message, ORIGIN_HEADER, EVENTS_QUEUE),
        failed_at=_header(message, FAILED_AT_HEADER),
    )


async def list_dead(settings: Settings, limit: int = DEFAULT_LIMIT) -> list[DeadMessage]:
    """The first ``limit`` dead messages; they stay in the queue."""
    connection = await connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(DLQ, durable=True)
        dead: list[DeadMessage] = []
        while len(dead) < limit:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            dead.append(describe(message))
        # Closing the channel without acknowledging puts every message back in place.
        await channel.close()
        return dead
    finally:
        await connection.close()


async def replay(settings: Settings, limit: int = DEFAULT_LIMIT) -> list[DeadMessage]:
    """Moves up to ``limit`` dead messages back to their origin queue as first attempts."""
    connection = await connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        queue = await channel.declare_queue(DLQ, durable=True)
        publisher = Publisher(channel)
        replayed: list[DeadMessage] = []
        while len(replayed) < limit:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            dead = describe(message)
            headers = dict(message.headers or {})
            for name in (ATTEMPT_HEADER, REASON_HEADER, FAILED_AT_HEADER, LAST_ERROR_HEADER):
                headers.pop(name, None)
            await publisher.to_queue(dead.origin, copy_message(message, headers))
            await message.ack()
            replayed.append(dead)
        return replayed
    finally:
        await connection.close()


def _print(dead: DeadMessage) -> None:
    sys.stdout.write(
        f"event_id={dead.event_id} type={dead.type} attempts={dead.attempts} "
        f"origin={dead.origin} failed_at={dead.failed_at or '?'} reason={dead.reason}\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fanout_worker.dlq", description=__doc__)
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="messages at most")
    args = parser.parse_args(argv)
    if args.limit < 1:
        parser.error("--limit must be at least 1")
    settings = Settings()
    if args.command == "list":
        dead = asyncio.run(list_dead(settings, args.limit))
        for item in dead:
            _print(item)
        sys.stdout.write(f"{len(dead)} dead message(s) listed\n")
    else:
        moved = asyncio.run(replay(settings, args.limit))
        for item in moved:
            _print(item)
        sys.stdout.write(f"{len(moved)} dead message(s) replayed\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
