"""The outbox: events survive a broker outage and are published in order once it is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import asyncpg
import httpx
import pytest
from aio_pika.abc import AbstractQueue
from post_service_testing import FakeUserService, create_post
from prometheus_client import REGISTRY
from sqlalchemy import BigInteger, cast, func, select

from feedline_shared.broker import declare_events_exchange
from feedline_shared.db import Database
from feedline_shared.events import EventEnvelope
from feedline_shared.outbox import OutboxRelay
from post_service.app import create_app
from post_service.models import outbox
from post_service.settings import Settings

CLOSED_BROKER = "amqp://guest:guest@127.0.0.1:1/"
DEADLINE_SECONDS = 15.0


async def _eventually(condition: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def post_events(settings: Settings) -> AsyncIterator[AbstractQueue]:
    """A temporary queue bound to every post.* event of the test vhost."""
    connection = await aio_pika.connect(settings.amqp_url)
    channel = await connection.channel()
    exchange = await declare_events_exchange(channel, settings.events_exchange)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key="post.#")
    yield queue
    await connection.close()


def _relay(settings: Settings, database: Database, amqp_url: str, name: str) -> OutboxRelay:
    return OutboxRelay(
        service=name,
        engine=database.engine,
        table=outbox,
        amqp_url=amqp_url,
        exchange_name=settings.events_exchange,
        listen_dsn=settings.listen_dsn,
        poll_interval_seconds=0.05,
    )


async def _collect_created(queue: AbstractQueue, post_ids: set[int]) -> list[int]:
    """post.created post ids from ``queue`` in arrival order, until all of ``post_ids`` came."""
    seen: list[int] = []
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not post_ids.issubset(seen):
        assert time.monotonic() < deadline, f"missing events for {post_ids - set(seen)}"
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            await asyncio.sleep(0.02)
            continue
        envelope = EventEnvelope.from_bytes(message.body)
        assert message.routing_key == envelope.type
        if envelope.type == "post.created" and envelope.data["post_id"] in post_ids:
            seen.append(int(envelope.data["post_id"]))  # type: ignore[call-overload]
    return seen


async def _unsent(database: Database, post_ids: set[int]) -> int:
    async with database.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(outbox)
            .where(
                outbox.c.sent_at.is_(None),
                cast(outbox.c.payload["data"]["post_id"].astext, BigInteger).in_(post_ids),
            )
        )
        return int(count or 0)


async def test_events_wait_out_a_broker_outage_then_publish_in_order(
    client: httpx.AsyncClient,
    user_service: FakeUserService,
    database: Database,
    settings: Settings,
    post_events: AbstractQueue,
) -> None:
    def failures() -> float:
        sample = REGISTRY.get_sample_value(
            "feedline_outbox_publish_failures_total", {"service": "test-relay-down"}
        )
        return sample or 0.0

    failures_before = failures()
    down = _relay(settings, database, CLOSED_BROKER, "test-relay-down")
    down.start()
    try:
        author = user_service.add()
        post_ids = [
            int((await create_post(client, author, f"during outage {i}"))["id"]) for i in range(5)
        ]

        async def relay_failed() -> bool:
            return failures() > failures_before

        await _eventually(relay_failed)
        assert await _unsent(database, set(post_ids)) == len(post_ids)
    finally:
        await down.stop()

    up = _relay(settings, database, settings.amqp_url, "test-relay-up")
    up.start()
    try:
        assert await _collect_created(post_events, set(post_ids)) == post_ids

        async def all_marked_sent() -> bool:
            return await _unsent(database, set(post_ids)) == 0

        await _eventually(all_marked_sent)
    finally:
        await up.stop()


async def test_the_app_relays_its_events_and_accepts_posts_while_rabbitmq_is_down(
    user_service: FakeUserService, settings: Settings, post_events: AbstractQueue
) -> None:
    author = user_service.add()
    transport = httpx.MockTransport(user_service.handle)
    headers = {"X-Internal-Token": settings.internal_token, "X-User-ID": str(author.id)}

    broker_down = create_app(
        settings.model_copy(update={"amqp_url": CLOSED_BROKER}), transport=transport
    )
    async with (
        broker_down.router.lifespan_context(broker_down),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=broker_down), base_url="http://p", headers=headers
        ) as http,
    ):
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["failing"] == ["rabbitmq"]
        created = await http.post("/posts", json={"caption": "while the broker is down"})
        assert created.status_code == 201
    waiting = int(created.json()["id"])

    running = create_app(
        settings.model_copy(update={"outbox_relay_enabled": True}), transport=transport
    )
    async with (
        running.router.lifespan_context(running),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=running), base_url="http://p", headers=headers
        ) as http,
    ):
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok", "rabbitmq": "ok"}
        fresh = await http.post("/posts", json={"caption": "published by the app's relay"})
        assert fresh.status_code == 201
        fresh_id = int(fresh.json()["id"])
        assert await _collect_created(post_events, {waiting, fresh_id}) == [waiting, fresh_id]


async def test_a_batch_of_events_is_stored_in_order_with_one_wake_up_at_commit(
    settings: Settings, database: Database
) -> None:
    from feedline_shared.events import PostDeleted
    from feedline_shared.outbox import add_events, notify_channel

    # Past what one statement could bind (3 parameters per event, 32,767 at most).
    count = 32_767 // 3 + 7
    events = [PostDeleted(post_id=9_000_000 + i, author_id=77) for i in range(count)]
    woken: list[str] = []
    listener = await asyncpg.connect(settings.listen_dsn)
    try:
        await listener.add_listener(
            notify_channel(outbox.schema or ""), lambda *args: woken.append(args[1])
        )
        async with database.sessions() as session:
            envelopes = await add_events(session, outbox, events)
            await asyncio.sleep(0.2)
            assert woken == []  # nothing before the commit
            await session.commit()

        async def woken_up() -> bool:
            return bool(woken)

        await _eventually(woken_up)
        await asyncio.sleep(0.2)
        assert len(woken) == 1
    finally:
        await listener.close()
    async with database.sessions() as session:
        stored = list(
            await session.scalars(
                select(outbox.c.event_id)
                .where(outbox.c.event_id.in_([e.event_id for e in envelopes]))
                .order_by(outbox.c.id)
            )
        )
        await session.execute(outbox.delete().where(outbox.c.event_id.in_(stored)))
        await session.commit()
    assert stored == [envelope.event_id for envelope in envelopes]
