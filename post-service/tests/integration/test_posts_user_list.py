"""GET /users/{username}/posts: newest first, stable cursor pages."""

from __future__ import annotations

import httpx
import pytest
from post_service_testing import FakeUserService, as_user, create_post


async def _all_pages(
    client: httpx.AsyncClient, username: str, limit: int, between_pages=None
) -> list[list[dict]]:
    pages: list[list[dict]] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(f"/users/{username}/posts", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        if between_pages is not None:
            await between_pages()


async def test_pages_are_newest_first_without_repeats_while_new_posts_arrive(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    author = user_service.add()
    originals = [(await create_post(client, author, f"post {i}"))["id"] for i in range(7)]

    async def post_more() -> None:
        await create_post(client, author, "arrived while paging")

    pages = await _all_pages(client, author.username, 3, between_pages=post_more)
    seen = [post["id"] for page in pages for post in page]
    assert len(seen) == len(set(seen))
    assert seen == list(reversed(originals))
    assert [len(page) for page in pages] == [3, 3, 1]
    assert all(post["author"]["username"] == author.username for page in pages for post in page)


async def test_exact_multiple_of_the_limit_ends_with_a_null_cursor(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    author = user_service.add()
    for _ in range(4):
        await create_post(client, author)
    pages = await _all_pages(client, author.username, 2)
    assert [len(page) for page in pages] == [2, 2]


async def test_deleted_posts_are_left_out_and_liked_by_me_is_per_viewer(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    author, viewer = user_service.add(), user_service.add()
    kept = await create_post(client, author, "kept")
    gone = await create_post(client, author, "gone")
    await client.delete(f"/posts/{gone['id']}", headers=as_user(author))
    await client.post(f"/posts/{kept['id']}/like", headers=as_user(viewer))
    response = await client.get(f"/users/{author.username}/posts", headers=as_user(viewer))
    items = response.json()["items"]
    assert [post["id"] for post in items] == [kept["id"]]
    assert items[0]["liked_by_me"] is True and items[0]["like_count"] == 1


async def test_user_without_posts_has_an_empty_page(
    client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    response = await client.get(f"/users/{user_service.add().username}/posts")
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("username", ["nobody_here", "a", "bad%20name", "x" * 31])
async def test_unknown_or_impossible_usernames_are_404(
    client: httpx.AsyncClient, username: str
) -> None:
    response = await client.get(f"/users/{username}/posts")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"cursor": "not-a-cursor!"}, 400),
        ({"cursor": "eyJ4IjoxfQ"}, 400),  # valid base64 JSON without "before"
        ({"cursor": "eyJiZWZvcmUiOiJhYmMifQ"}, 400),  # "before": "abc"
        ({"limit": 0}, 422),
        ({"limit": 101}, 422),
        ({"limit": "many"}, 422),
    ],
)
async def test_bad_cursor_is_400_and_bad_limit_is_422(
    client: httpx.AsyncClient, user_service: FakeUserService, params: dict, status: int
) -> None:
    author = user_service.add()
    response = await client.get(f"/users/{author.username}/posts", params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
