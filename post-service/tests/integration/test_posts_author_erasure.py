"""A deleted account: its posts and likes are erased on request, with their events; it cannot
like anything any more."""

from __future__ import annotations

import httpx
from post_service_testing import FakeUserService, as_user, create_post, outbox_events
from redis.asyncio import Redis

from feedline_shared import caches
from feedline_shared.db import Database


async def erase(client: httpx.AsyncClient, user_id: int) -> httpx.Response:
    return await client.post(f"/internal/users/{user_id}/erase")


async def test_erasure_deletes_the_authors_posts_and_removes_their_likes(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database, redis: Redis
) -> None:
    gone, other = user_service.add(), user_service.add()
    own = [await create_post(client, gone, f"mine {i}") for i in range(3)]
    liked = await create_post(client, other, "liked by the account")
    kept_like = await create_post(client, other, "liked by someone else")
    for post in (liked, kept_like):
        assert (await client.post(f"/posts/{post['id']}/like", headers=as_user(gone))).is_success
    assert (await client.post(f"/posts/{kept_like['id']}/like", headers=as_user(other))).is_success
    del user_service.users[gone.id]

    for _ in range(2):  # idempotent: the second call finds nothing left to do
        response = await erase(client, gone.id)
        assert response.status_code == 204

    for post in own:
        assert (await client.get(f"/posts/{post['id']}")).status_code == 404
        events = [event for event, _ in await outbox_events(database, post["id"])]
        assert events == ["post.created", "post.deleted"]
        assert await redis.hget(caches.post_key(int(post["id"])), caches.DELETED) == b"1"
    after = (await client.get(f"/posts/{liked['id']}", headers=as_user(other))).json()
    assert after["like_count"] == 0
    after = (await client.get(f"/posts/{kept_like['id']}", headers=as_user(other))).json()
    assert after["like_count"] == 1
    assert after["liked_by_me"] is True
    unliked = [d for e, d in await outbox_events(database, liked["id"]) if e == "post.unliked"]
    assert [d["data"]["user_id"] for d in unliked] == [gone.id]
    assert unliked[0]["data"]["like_count"] == 0


async def test_an_account_user_service_no_longer_knows_cannot_like(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database
) -> None:
    author = user_service.add()
    post = await create_post(client, author)
    response = await client.post(f"/posts/{post['id']}/like", headers=as_user(999_999_999))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert [event for event, _ in await outbox_events(database, post["id"])] == ["post.created"]
    assert (await client.get(f"/posts/{post['id']}")).json()["like_count"] == 0


async def test_erasure_of_a_malformed_user_id_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.post("/internal/users/not-a-number/erase")).status_code == 404
