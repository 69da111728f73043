"""Likes: idempotent, counters right under concurrency, events only for effective changes."""

from __future__ import annotations

import asyncio

import httpx
from post_service_testing import FakeUserService, as_user, create_post, outbox_events

from feedline_shared.db import Database


async def _events(database: Database, post_id: str) -> list[str]:
    return [event for event, _ in await outbox_events(database, post_id)]


async def test_like_and_unlike_are_idempotent_and_announce_only_changes(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database
) -> None:
    author, fan = user_service.add(), user_service.add()
    post = await create_post(client, author)
    url = f"/posts/{post['id']}/like"
    for _ in range(2):
        response = await client.post(url, headers=as_user(fan))
        assert response.status_code == 200
        assert response.json() == {"liked": True, "like_count": 1}
    for _ in range(2):
        response = await client.delete(url, headers=as_user(fan))
        assert response.status_code == 200
        assert response.json() == {"liked": False, "like_count": 0}
    events = await outbox_events(database, post["id"])
    assert [event for event, _ in events] == ["post.created", "post.liked", "post.unliked"]
    assert events[1][1]["data"] == {
        "post_id": int(post["id"]),
        "author_id": author.id,
        "user_id": fan.id,
        "like_count": 1,
    }
    assert events[2][1]["data"]["like_count"] == 0


async def test_twenty_users_liking_at_once_count_twenty(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database
) -> None:
    post = await create_post(client, user_service.add())
    fans = [user_service.add() for _ in range(20)]
    responses = await asyncio.gather(
        *(client.post(f"/posts/{post['id']}/like", headers=as_user(fan)) for fan in fans)
    )
    assert {response.status_code for response in responses} == {200}
    assert sorted(response.json()["like_count"] for response in responses) == list(range(1, 21))
    assert (await client.get(f"/posts/{post['id']}")).json()["like_count"] == 20
    assert (await _events(database, post["id"])).count("post.liked") == 20


async def test_one_user_liking_ten_times_at_once_counts_once(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database
) -> None:
    post = await create_post(client, user_service.add())
    fan = user_service.add()
    responses = await asyncio.gather(
        *(client.post(f"/posts/{post['id']}/like", headers=as_user(fan)) for _ in range(10))
    )
    assert [response.json() for response in responses] == [{"liked": True, "like_count": 1}] * 10
    assert (await _events(database, post["id"])).count("post.liked") == 1
    unlikes = await asyncio.gather(
        *(client.delete(f"/posts/{post['id']}/like", headers=as_user(fan)) for _ in range(10))
    )
    assert [response.json() for response in unlikes] == [{"liked": False, "like_count": 0}] * 10
    assert (await _events(database, post["id"])).count("post.unliked") == 1


async def test_liking_a_deleted_or_unknown_post_is_404(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    author, fan = user_service.add(), user_service.add()
    post = await create_post(client, author)
    await client.post(f"/posts/{post['id']}/like", headers=as_user(fan))
    await client.delete(f"/posts/{post['id']}", headers=as_user(author))
    for method in ("POST", "DELETE"):
        response = await client.request(method, f"/posts/{post['id']}/like", headers=as_user(fan))
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
    unknown = await client.post("/posts/4242/like", headers=as_user(fan))
    assert unknown.status_code == 404


async def test_like_needs_an_acting_user(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    post = await create_post(client, user_service.add())
    assert (await client.post(f"/posts/{post['id']}/like")).status_code == 401
