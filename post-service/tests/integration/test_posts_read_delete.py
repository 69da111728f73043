"""GET and DELETE /posts/{post_id}: tombstones, authorship, and ids that name no post."""

from __future__ import annotations

import httpx
import pytest
from post_service_testing import FakeUserService, as_user, create_post, outbox_events

from feedline_shared.db import Database


async def test_get_returns_the_post_for_anonymous_and_signed_in_viewers(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    author, viewer = user_service.add(), user_service.add()
    post = await create_post(client, author, "look")
    anonymous = await client.get(f"/posts/{post['id']}")
    assert anonymous.status_code == 200
    assert anonymous.json() == post
    await client.post(f"/posts/{post['id']}/like", headers=as_user(viewer))
    seen = (await client.get(f"/posts/{post['id']}", headers=as_user(viewer))).json()
    assert seen["liked_by_me"] is True and seen["like_count"] == 1
    by_author = (await client.get(f"/posts/{post['id']}", headers=as_user(author))).json()
    assert by_author["liked_by_me"] is False and by_author["like_count"] == 1


@pytest.mark.parametrize(
    "raw_id",
    ["abc", "0", "-1", "1.5", "007", "9223372036854775808", "99999999999999999999999", "1e3"],
)
async def test_ids_that_are_not_positive_64_bit_integers_are_404_problems(
    client: httpx.AsyncClient, user_service: FakeUserService, raw_id: str
) -> None:
    user = user_service.add()
    for method, path in (
        ("GET", f"/posts/{raw_id}"),
        ("DELETE", f"/posts/{raw_id}"),
        ("POST", f"/posts/{raw_id}/like"),
        ("DELETE", f"/posts/{raw_id}/like"),
    ):
        response = await client.request(method, path, headers=as_user(user))
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_post_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/posts/9223372036854775807")
    assert response.status_code == 404
    assert response.json()["detail"] == "Post not found"


async def test_delete_by_someone_else_is_403_and_the_post_stays(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database
) -> None:
    author, stranger = user_service.add(), user_service.add()
    post = await create_post(client, author, "mine")
    response = await client.delete(f"/posts/{post['id']}", headers=as_user(stranger))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"/posts/{post['id']}")).json() == post
    assert [event for event, _ in await outbox_events(database, post["id"])] == ["post.created"]


async def test_delete_leaves_a_tombstone_that_is_never_returned(
    client: httpx.AsyncClient, user_service: FakeUserService, database: Database
) -> None:
    author = user_service.add()
    post = await create_post(client, author, "short-lived")
    deleted = await client.delete(f"/posts/{post['id']}", headers=as_user(author))
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await client.get(f"/posts/{post['id']}")).status_code == 404
    again = await client.delete(f"/posts/{post['id']}", headers=as_user(author))
    assert again.status_code == 404
    events = await outbox_events(database, post["id"])
    assert [event for event, _ in events] == ["post.created", "post.deleted"]
    assert events[1][1]["data"] == {"post_id": int(post["id"]), "author_id": author.id}


async def test_delete_needs_an_acting_user(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    post = await create_post(client, user_service.add())
    assert (await client.delete(f"/posts/{post['id']}")).status_code == 401


async def test_post_whose_author_user_service_no_longer_knows_is_404(
    client: httpx.AsyncClient, user_service: FakeUserService, redis
) -> None:
    author = user_service.add()
    post = await create_post(client, author)
    del user_service.users[author.id]
    await redis.delete(f"feedline:user:{{{author.id}}}")
    assert (await client.get(f"/posts/{post['id']}")).status_code == 404
