"""The transactional outbox: events are written with the change that caused them and published
after commit by a relay, so a stored change always gets its event and nothing is published for a
change that rolled back.

Each service defines its own outbox table (``define_outbox_table``) in its own schema and adds
events through its request session (``add_event``), which never commits by itself. The relay
claims unsent rows in id order under a transaction-level advisory lock (one active relay per
schema keeps events in order), publishes them with publisher confirms and marks them sent. It
wakes on ``NOTIFY`` (delivered only on commit) and polls as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import aio_pika
import asyncpg
from prometheus_client import Counter, Gauge
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Uuid,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from feedline_shared.broker import connect, declare_events_exchange
from feedline_shared.db import libpq_dsn
from feedline_shared.events import EventData, EventEnvelope
from feedline_shared.settings import DatabaseSettings

logger = logging.getLogger(__name__)

OUTBOX_BACKLOG = Gauge("feedline_outbox_backlog", "Outbox events not yet published.", ["service"])
OUTBOX_PUBLISHED = Counter(
    "feedline_outbox_published_total", "Outbox events published to RabbitMQ.", ["service", "type"]
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "feedline_outbox_publish_failures_total",
    "Relay rounds that failed to publish (broker down, unroutable).",
    ["service"],
)


def define_outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("event_type", String(64), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),
    )


def notify_channel(schema: str) -> str:
    return f"feedline_outbox_{schema}"


async def add_event(session: AsyncSession, table: Table, data: EventData) -> EventEnvelope:
    """Adds the event to the caller's transaction; it is published only if that commits."""
    (envelope,) = await add_events(session, table, [data])
    return envelope


async def add_events(
    session: AsyncSession, table: Table, events: Sequence[EventData]
) -> list[EventEnvelope]:
    """:func:`add_event` for many events: one insert and one notification for all of them,
    in the order given (outbox ids, and so publishing, follow it)."""
    envelopes = [EventEnvelope.wrap(data) for data in events]
    if not envelopes:
        return []
    await session.execute(
        table.insert(),
        [
            {
                "event_id": envelope.event_id,
                "event_type": envelope.type,
                "payload": envelope.model_dump(mode="json"),
            }
            for envelope in envelopes
        ],
    )
    await session.execute(
        text("SELECT pg_notify(:channel, '')"), {"channel": notify_channel(table.schema or "")}
    )
    return envelopes


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        engine: AsyncEngine,
        table: Table,
        amqp_url: str,
        exchange_name: str,
        listen_dsn: str,
        batch_size: int = 500,
        poll_interval_seconds: float = 1.0,
        retention: timedelta = timedelta(days=3),
    ) -> None:
        self.service = service
        self.engine = engine
        self.table = table
        self.amqp_url = amqp_url
        self.exchange_name = exchange_name
        self.listen_dsn = listen_dsn
        self.batch_size = batch_size
        self.poll_interval_seconds = poll_interval_seconds
        self.retention = retention
        self._lock_key = zlib.crc32(f"outbox:{table.fullname}".encode())
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None
        self._listener: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_cleanup = datetime.min.replace(tzinfo=UTC)

    @classmethod
    def for_service(
        cls,
        settings: DatabaseSettings,
        engine: AsyncEngine,
        table: Table,
        *,
        batch_size: int = 500,
        poll_interval_seconds: float = 1.0,
    ) -> OutboxRelay:
        """The relay of a service's own outbox, wired from its settings."""
        return cls(
            service=settings.service_name,
            engine=engine,
            table=table,
            amqp_url=settings.amqp_url,
            exchange_name=settings.events_exchange,
            listen_dsn=libpq_dsn(settings.database_url),
            batch_size=batch_size,
            poll_interval_seconds=poll_interval_seconds,
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"outbox-relay-{self.service}")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 10)
        await self._close_broker()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            await self._ensure_listener()
            # Cleared before the round, not after: a row committed while this round publishes
            # (or while another relay holds the lock) notifies, and the next round starts at
            # once instead of after the poll interval.
            self._wake.clear()
            try:
                published = await self.publish_pending()
                backoff = 0.2
            except Exception as exc:  # noqa: BLE001 - broker or database down: keep rows, retry
                OUTBOX_PUBLISH_FAILURES.labels(self.service).inc()
                logger.warning("outbox publish failed, will retry: %s", exc)
                await self._close_broker()
                # New rows must not cut the back-off short while the broker is down.
                self._wake.clear()
                await self._sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if published >= self.batch_size:
                continue
            await self._sleep(self.poll_interval_seconds)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(self.listen_dsn, timeout=5)
            await self._listener.add_listener(
                notify_channel(self.table.schema or ""), lambda *_: self._wake.set()
            )
        except Exception as exc:  # noqa: BLE001 - polling still publishes without notifications
            logger.warning("outbox listener unavailable, polling only: %s", exc)
            self._listener = None

    async def _exchange_ready(self) -> aio_pika.abc.AbstractExchange:
        if self._exchange is None:
            self._connection = await connect(self.amqp_url)
            channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
            self._exchange = await declare_events_exchange(channel, self.exchange_name)
        return self._exchange

    async def _close_broker(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def publish_pending(self) -> int:
        """Publishes one batch of unsent events; returns how many were published."""
        table = self.table
        async with self.engine.begin() as conn:
            locked = await conn.scalar(select(func.pg_try_advisory_xact_lock(self._lock_key)))
            if not locked:
                return 0
            rows = (
                await conn.execute(
                    select(table.c.id, table.c.event_type, table.c.payload)
                    .where(table.c.sent_at.is_(None))
                    .order_by(table.c.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            failure: Exception | None = None
            sent: list[int] = []
            if rows:
                try:
                    exchange = await self._exchange_ready()
                    for row in rows:
                        await exchange.publish(
                            _message(EventEnvelope.model_validate(row.payload)),
                            routing_key=row.event_type,
                            mandatory=True,
                            timeout=5,
                        )
                        sent.append(row.id)
                        OUTBOX_PUBLISHED.labels(self.service, row.event_type).inc()
                except Exception as exc:  # noqa: BLE001 - mark what was confirmed, then report
                    failure = exc
                if sent:
                    await conn.execute(
                        update(table).where(table.c.id.in_(sent)).values(sent_at=func.now())
                    )
            backlog = await conn.scalar(
                select(func.count()).select_from(table).where(table.c.sent_at.is_(None))
            )
            OUTBOX_BACKLOG.labels(self.service).set(backlog or 0)
            await self._cleanup(conn)
        if failure is not None:
            raise failure
        return len(sent)

    async def _cleanup(self, conn: object) -> None:
        now = datetime.now(UTC)
        if now - self._last_cleanup < timedelta(minutes=5):
            return
        self._last_cleanup = now
        await conn.execute(  # type: ignore[attr-defined]
            delete(self.table).where(
                self.table.c.sent_at.is_not(None), self.table.c.sent_at < now - self.retention
            )
        )


def _message(envelope: EventEnvelope) -> aio_pika.Message:
    return aio_pika.Message(
        envelope.to_bytes(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(envelope.event_id),
        type=envelope.type,
        timestamp=envelope.occurred_at,
    )
