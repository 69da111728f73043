"""Internal routes: batch lookup, posts by authors, post counts."""

from __future__ import annotations

import httpx
import pytest
from post_service_testing import FakeUserService, as_user, create_post

from feedline_shared.clients import PostServiceClient


async def test_batch_returns_live_posts_in_the_order_asked(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    alice, bob, viewer = user_service.add(), user_service.add(), user_service.add()
    a1 = await create_post(client, alice, "a1")
    b1 = await create_post(client, bob, "b1")
    a2 = await create_post(client, alice, "a2")
    gone = await create_post(client, bob, "gone")
    await client.delete(f"/posts/{gone['id']}", headers=as_user(bob))
    await client.post(f"/posts/{b1['id']}/like", headers=as_user(viewer))
    asked = [b1["id"], gone["id"], "9223372036854775000", a2["id"], a1["id"]]
    response = await client.post(
        "/internal/posts/batch", json={"ids": asked, "viewer_id": str(viewer.id)}
    )
    assert response.status_code == 200
    items = response.json()["items"]
    assert [post["id"] for post in items] == [b1["id"], a2["id"], a1["id"]]
    assert [post["liked_by_me"] for post in items] == [True, False, False]
    assert items[0]["like_count"] == 1 and items[0]["author"]["id"] == str(bob.id)
    anonymous = await client.post("/internal/posts/batch", json={"ids": asked, "viewer_id": None})
    assert [post["liked_by_me"] for post in anonymous.json()["items"]] == [False] * 3


async def test_batch_through_the_shared_client(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    author = user_service.add()
    post = await create_post(client, author, "via client")
    posts = await PostServiceClient(client, "").posts_by_id([int(post["id"])], None)
    assert [p.model_dump(mode="json") for p in posts] == [post]


@pytest.mark.parametrize(
    "body",
    [
        {"ids": [str(i) for i in range(1, 502)]},
        {"ids": ["abc"]},
        {"ids": ["0"]},
        {"ids": ["9223372036854775808"]},
        {"ids": "1,2"},
        {"ids": ["1"], "viewer_id": "me"},
    ],
)
async def test_batch_rejects_bad_requests_with_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post("/internal/posts/batch", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_by_authors_honours_exclusive_bounds_limit_and_deletions(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    alice, bob, carol = user_service.add(), user_service.add(), user_service.add()
    ids: list[int] = []
    authors_of: dict[int, int] = {}
    for i in range(8):
        author = (alice, bob, carol)[i % 3]
        post_id = int((await create_post(client, author, f"p{i}"))["id"])
        ids.append(post_id)
        authors_of[post_id] = author.id
    await client.delete(f"/posts/{ids[3]}", headers=as_user(alice))
    wanted = {alice.id, bob.id}
    expected = [p for p in reversed(ids) if authors_of[p] in wanted and p != ids[3]]

    async def ask(**bounds: object) -> list[dict[str, str]]:
        body = {"author_ids": [str(alice.id), str(bob.id)], "limit": 1000} | bounds
        response = await client.post("/internal/posts/by-authors", json=body)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    everything = await ask()
    assert [int(item["id"]) for item in everything] == expected
    assert all(int(item["author_id"]) == authors_of[int(item["id"])] for item in everything)
    assert [int(i["id"]) for i in await ask(limit=2)] == expected[:2]
    before, after = str(expected[0]), str(expected[-1])
    assert [int(i["id"]) for i in await ask(before=before, after=after)] == expected[1:-1]
    assert await ask(before=str(expected[2]), after=str(expected[3])) == []
    assert await ask(before=str(expected[3]), after=str(expected[2])) == []
    assert await ask(author_ids=[]) == []


@pytest.mark.parametrize(
    "body",
    [
        {"author_ids": [str(i) for i in range(1, 10_002)], "limit": 10},
        {"author_ids": ["1"], "limit": 1001},
        {"author_ids": ["1"], "limit": 0},
        {"author_ids": ["1"], "before": "x", "limit": 5},
    ],
)
async def test_by_authors_rejects_bad_requests_with_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    assert (await client.post("/internal/posts/by-authors", json=body)).status_code == 422


async def test_by_authors_accepts_ten_thousand_authors(client: httpx.AsyncClient) -> None:
    body = {"author_ids": [str(i) for i in range(1, 10_001)], "limit": 1000}
    response = await client.post("/internal/posts/by-authors", json=body)
    assert response.status_code == 200


async def test_post_counts_count_live_posts_and_zero_for_none(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    busy, idle = user_service.add(), user_service.add()
    first = await create_post(client, busy)
    await create_post(client, busy)
    await create_post(client, busy)
    await client.delete(f"/posts/{first['id']}", headers=as_user(busy))
    response = await client.get(
        "/internal/post-counts", params={"user_ids": f"{busy.id},{idle.id}"}
    )
    assert response.status_code == 200
    assert response.json() == {"counts": {str(busy.id): 2, str(idle.id): 0}}
    counts = await PostServiceClient(client, "").post_counts([busy.id])
    assert counts == {busy.id: 2}


@pytest.mark.parametrize("user_ids", ["1,abc", "-1", "1;2", ",".join(["1"] * 1001)])
async def test_post_counts_reject_malformed_ids_with_422(
    client: httpx.AsyncClient, user_ids: str
) -> None:
    response = await client.get("/internal/post-counts", params={"user_ids": user_ids})
    assert response.status_code == 422


async def test_internal_routes_need_the_credential(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/internal/posts/batch", json={"ids": []}, headers={"X-Internal-Token": "nope"}
    )
    assert response.status_code == 401
