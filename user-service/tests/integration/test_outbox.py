"""The outbox: events are written with their change, never without it, and really published."""

from __future__ import annotations

import asyncio
import time

import aio_pika
import httpx
from sqlalchemy import select

from feedline_shared.broker import declare_events_exchange
from feedline_shared.events import EventEnvelope
from feedline_shared.ids import IdGenerator
from user_service import follows
from user_service.models import outbox


async def events_for(app, event_type: str, **data: int) -> list[dict]:
    async with app.state.session_scope() as session:
        query = select(outbox.c.payload).where(outbox.c.event_type == event_type)
        for key, value in data.items():
            query = query.where(outbox.c.payload["data"][key].astext == str(value))
        return list((await session.scalars(query)).all())


async def test_follow_and_unfollow_write_one_event_per_effective_change(
    app, client: httpx.AsyncClient, make_user
) -> None:
    alice, bob = await make_user(), await make_user()
    pair = {"follower_id": int(alice["id"]), "followee_id": int(bob["id"])}
    for _ in range(2):
        await client.post(f"/users/{bob['username']}/follow", headers={"X-User-ID": alice["id"]})
    followed = await events_for(app, "user.followed", **pair)
    assert len(followed) == 1
    assert followed[0]["data"] == pair | {"followee_peak_followers": 1}
    assert followed[0]["type"] == "user.followed"
    carol = await make_user()
    await client.post(f"/users/{bob['username']}/follow", headers={"X-User-ID": carol["id"]})
    [second] = await events_for(app, "user.followed", follower_id=int(carol["id"]))
    assert second["data"]["followee_peak_followers"] == 2

    for _ in range(2):
        await client.delete(f"/users/{bob['username']}/follow", headers={"X-User-ID": alice["id"]})
    assert len(await events_for(app, "user.unfollowed", **pair)) == 1


async def test_profile_update_writes_user_updated_only_when_something_changed(
    app, client: httpx.AsyncClient, make_user
) -> None:
    user = await make_user()
    headers = {"X-User-ID": user["id"]}
    await client.patch("/users/me", json={"bio": "new"}, headers=headers)
    await client.patch("/users/me", json={"bio": "new"}, headers=headers)
    await client.patch("/users/me", json={}, headers=headers)
    assert len(await events_for(app, "user.updated", user_id=int(user["id"]))) == 1


async def test_rolled_back_follow_leaves_no_event_and_no_counts(app, make_user) -> None:
    alice, bob = await make_user(), await make_user()
    pair = {"follower_id": int(alice["id"]), "followee_id": int(bob["id"])}
    async with app.state.database.sessions() as session:
        assert await follows.follow(
            session, app.state.cache_invalidation, IdGenerator(1), int(alice["id"]), bob["username"]
        )
        inside = await session.scalar(
            select(outbox.c.id)
            .where(outbox.c.event_type == "user.followed")
            .where(outbox.c.payload["data"]["follower_id"].astext == alice["id"])
        )
        assert inside is not None  # written in the same transaction as the follow
        await session.rollback()
    assert await events_for(app, "user.followed", **pair) == []
    async with app.state.session_scope() as session:
        page = await follows.follow_page(session, bob["username"], "followers", 20, None)
    assert page.items == []


async def test_relay_publishes_committed_events_to_rabbitmq(
    app, client: httpx.AsyncClient, make_user, settings
) -> None:
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        exchange = await declare_events_exchange(channel, settings.events_exchange)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="user.#")

        user = await make_user()
        response = await client.patch(
            "/users/me", json={"display_name": "Published"}, headers={"X-User-ID": user["id"]}
        )
        assert response.status_code == 200

        received: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage] = asyncio.Queue()
        await queue.consume(received.put, no_ack=True)
        deadline = time.monotonic() + 15
        found: EventEnvelope | None = None
        while found is None and (remaining := deadline - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(received.get(), remaining)
            except TimeoutError:
                break
            envelope = EventEnvelope.from_bytes(message.body)
            if envelope.type == "user.updated" and envelope.data == {"user_id": int(user["id"])}:
                found = envelope
                assert message.routing_key == "user.updated"
                assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert found is not None, "user.updated was not published"
    finally:
        await connection.close()

    # The relay marks a row sent after the broker's confirm, so a consumer can see the
    # message a moment before the row changes.
    sent_at = None
    marking_deadline = time.monotonic() + 10
    while sent_at is None and time.monotonic() < marking_deadline:
        async with app.state.session_scope() as session:
            sent_at = await session.scalar(
                select(outbox.c.sent_at).where(outbox.c.event_id == found.event_id)
            )
        if sent_at is None:
            await asyncio.sleep(0.05)
    assert sent_at is not None, "published event was never marked sent"
