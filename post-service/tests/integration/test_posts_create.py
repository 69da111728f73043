"""POST /posts: validation, Idempotency-Key, and the event written with the post."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from post_service_testing import FakeUserService, as_user, create_post, outbox_events
from sqlalchemy import BigInteger, cast, func, select

from feedline_shared.db import Database
from feedline_shared.ids import IdGenerator
from feedline_shared.schemas import PostCreateRequest
from post_service import service
from post_service.models import outbox, posts


async def _post_count(database: Database, author_id: int) -> int:
    async with database.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(posts).where(posts.c.author_id == author_id)
        )
        return int(count or 0)


async def _outbox_count_for_author(database: Database, author_id: int) -> int:
    async with database.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(outbox)
            .where(cast(outbox.c.payload["data"]["author_id"].astext, BigInteger) == author_id)
        )
        return int(count or 0)


async def test_create_returns_the_post_and_writes_post_created(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database
) -> None:
    author = user_service.add()
    response = await client.post(
        "/posts",
        json={"caption": "first light\nover the bay", "media_url": "https://img.example/1.jpg"},
        headers=as_user(author),
    )
    assert response.status_code == 201
    body = response.json()
    assert isinstance(body["id"], str) and int(body["id"]) > 0
    assert body["author"] == {
        "id": str(author.id),
        "username": author.username,
        "display_name": author.display_name,
    }
    assert body["caption"] == "first light\nover the bay"
    assert body["media_url"] == "https://img.example/1.jpg"
    assert body["like_count"] == 0 and body["liked_by_me"] is False
    assert body["created_at"].endswith("Z")
    events = await outbox_events(database, body["id"])
    assert [event_type for event_type, _ in events] == ["post.created"]
    data = events[0][1]["data"]
    assert data["post_id"] == int(body["id"]) and data["author_id"] == author.id


async def test_media_url_is_optional_and_null(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    body = await create_post(client, user_service.add(), "no picture")
    assert body["media_url"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"caption": ""}, "caption"),
        ({"caption": "x" * 2201}, "caption"),
        ({"caption": "   \n "}, "caption"),
        ({"caption": "ok", "media_url": "ftp://files.example/a.jpg"}, "media_url"),
        ({"caption": "ok", "media_url": "javascript:alert(1)"}, "media_url"),
        ({"caption": "ok", "media_url": "not a url"}, "media_url"),
        ({"caption": "bell\x07"}, "caption"),
        ({"caption": "nul\x00"}, "caption"),
        ({"caption": 42}, "caption"),
        ({"caption": ["a"]}, "caption"),
        ({"caption": "ok", "media_url": 7}, "media_url"),
        ({"caption": "ok", "author_id": "1"}, "author_id"),
        ({}, "caption"),
    ],
)
async def test_invalid_bodies_are_422_problems_and_write_nothing(
    client: httpx.AsyncClient,
    user_service: FakeUserService,
    database: Database,
    payload: dict[str, object],
    field: str,
) -> None:
    author = user_service.add()
    response = await client.post("/posts", json=payload, headers=as_user(author))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["detail"]
    assert field in {error["field"] for error in problem["errors"]}
    assert await _post_count(database, author.id) == 0
    assert await _outbox_count_for_author(database, author.id) == 0


@pytest.mark.parametrize("raw", [b'{"caption": "unterminated', b"caption=hello", b"[1, 2"])
async def test_malformed_json_is_a_400_problem(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database, raw: bytes
) -> None:
    author = user_service.add()
    response = await client.post(
        "/posts",
        content=raw,
        headers=as_user(author) | {"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "Request body is not valid JSON"
    assert await _post_count(database, author.id) == 0


async def test_json_that_is_not_an_object_is_422(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    response = await client.post("/posts", json=["hello"], headers=as_user(user_service.add()))
    assert response.status_code == 422


async def test_create_needs_the_internal_credential_and_an_acting_user(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    author = user_service.add()
    no_token = await client.post(
        "/posts",
        json={"caption": "x"},
        headers=as_user(author) | {"X-Internal-Token": "wrong"},
    )
    assert no_token.status_code == 401
    assert no_token.headers["content-type"] == "application/problem+json"
    anonymous = await client.post("/posts", json={"caption": "x"})
    assert anonymous.status_code == 401


async def test_unknown_author_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/posts", json={"caption": "x"}, headers=as_user(999_999_999))
    assert response.status_code == 401


async def test_user_service_outage_is_503_and_writes_nothing(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database
) -> None:
    author = user_service.add()
    user_service.down = True
    response = await client.post("/posts", json={"caption": "x"}, headers=as_user(author))
    assert response.status_code == 503
    assert response.json()["title"] == "Service unavailable"
    assert await _post_count(database, author.id) == 0


@pytest.mark.parametrize("key", ["", "k" * 201, "tab\tkey", "é-key"])
async def test_invalid_idempotency_keys_are_422(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database, key: str
) -> None:
    author = user_service.add()
    response = await client.post(
        "/posts",
        json={"caption": "x"},
        headers=as_user(author) | {"Idempotency-Key": key.encode()},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {
            "field": "Idempotency-Key",
            "message": "Idempotency-Key must be 1 to 200 printable ASCII characters",
        }
    ]
    assert await _post_count(database, author.id) == 0


async def test_idempotent_retry_returns_the_same_post(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database
) -> None:
    author = user_service.add()
    key = {"Idempotency-Key": "retry-" + "k" * 194}
    first = await create_post(client, author, "once", **key)
    second = await create_post(client, author, "once", **key)
    assert second == first
    assert await _post_count(database, author.id) == 1
    assert len(await outbox_events(database, first["id"])) == 1
    # The key is per author: someone else's identical key is a different request.
    other = await create_post(client, user_service.add(), "once", **key)
    assert other["id"] != first["id"]


async def test_concurrent_idempotent_retries_create_one_post(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database
) -> None:
    author = user_service.add()
    responses = await asyncio.gather(
        *(
            client.post(
                "/posts",
                json={"caption": "racing"},
                headers=as_user(author) | {"Idempotency-Key": "same-key"},
            )
            for _ in range(10)
        )
    )
    assert {response.status_code for response in responses} == {201}
    bodies = [response.json() for response in responses]
    assert all(body == bodies[0] for body in bodies)
    assert await _post_count(database, author.id) == 1
    assert await _outbox_count_for_author(database, author.id) == 1


async def test_reusing_a_key_for_a_different_request_is_422(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database
) -> None:
    author = user_service.add()
    await create_post(client, author, "original", **{"Idempotency-Key": "k1"})
    response = await client.post(
        "/posts", json={"caption": "changed"}, headers=as_user(author) | {"Idempotency-Key": "k1"}
    )
    assert response.status_code == 422
    assert "different request" in response.json()["detail"]
    assert await _post_count(database, author.id) == 1


async def test_retry_after_the_post_was_deleted_is_a_conflict(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database
) -> None:
    author = user_service.add()
    post = await create_post(client, author, "gone", **{"Idempotency-Key": "k2"})
    assert (await client.delete(f"/posts/{post['id']}", headers=as_user(author))).status_code == 204
    response = await client.post(
        "/posts", json={"caption": "gone"}, headers=as_user(author) | {"Idempotency-Key": "k2"}
    )
    assert response.status_code == 409
    assert await _post_count(database, author.id) == 1


async def test_a_rolled_back_transaction_leaves_no_post_and_no_outbox_row(
    app, user_service: FakeUserService, database: Database
) -> None:
    author = user_service.add()
    async with database.sessions() as session:
        post = await service.create_post(
            session,
            app.state.authors,
            IdGenerator(1),
            author_id=author.id,
            request=PostCreateRequest(caption="never committed"),
            idempotency_key="rolled-back",
        )
        assert len(await outbox_events(database, post.id)) == 0  # not visible before commit
        await session.rollback()
    assert await _post_count(database, author.id) == 0
    assert await outbox_events(database, post.id) == []


async def test_forgotten_idempotency_keys_are_purged_and_a_late_retry_posts_again(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from post_service.janitor import purge_idempotency_keys
    from post_service.models import idempotency_keys

    author = user_service.add()
    headers = as_user(author) | {"Idempotency-Key": "late-retry"}
    first = await client.post("/posts", json={"caption": "once"}, headers=headers)
    fresh = await client.post(
        "/posts", json={"caption": "kept"}, headers=as_user(author) | {"Idempotency-Key": "new"}
    )
    async with database.engine.begin() as conn:
        await conn.execute(
            update(idempotency_keys)
            .where(
                idempotency_keys.c.author_id == author.id, idempotency_keys.c.key == "late-retry"
            )
            .values(created_at=func.now() - timedelta(hours=25))
        )
    assert await purge_idempotency_keys(database.engine, timedelta(hours=24)) >= 1
    retried = await client.post("/posts", json={"caption": "once"}, headers=headers)
    kept = await client.post(
        "/posts", json={"caption": "kept"}, headers=as_user(author) | {"Idempotency-Key": "new"}
    )
    assert retried.status_code == 201 and retried.json()["id"] != first.json()["id"]
    assert kept.json()["id"] == fresh.json()["id"]
