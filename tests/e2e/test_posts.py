"""The Posts section of the contract, through the gateway."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from feedline_client import Feedline
from test_auth_and_users import assert_problem


def test_create_and_read_a_post(api: Feedline) -> None:
    alice = api.register("poster")
    post = api.post(alice, "hello 🌍 world", media_url="https://cdn.example.com/a.jpg")
    assert post["id"].isdigit() and post["caption"] == "hello 🌍 world"
    assert post["media_url"] == "https://cdn.example.com/a.jpg"
    assert post["author"] == {
        "id": alice.id,
        "username": alice.username,
        "display_name": alice.username,
    }
    assert post["like_count"] == 0 and post["liked_by_me"] is False
    assert post["created_at"].endswith("Z")
    fetched = api.request("GET", f"/posts/{post['id']}", alice)
    assert fetched.status_code == 200 and fetched.json() == post
    assert api.request("GET", "/users/me", alice).json()["posts_count"] == 1


def test_newer_posts_have_larger_ids(api: Feedline) -> None:
    alice = api.register("order")
    ids = [int(api.post(alice, f"p{i}")["id"]) for i in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_invalid_posts_are_422_and_nothing_is_written(api: Feedline) -> None:
    alice = api.register("invalid")
    for body in (
        {"caption": ""},
        {"caption": "x" * 2201},
        {"caption": "x", "media_url": "ftp://a/b"},
        {"caption": 5},
        {},
        {"caption": "bad\x00"},
    ):
        assert_problem(api.request("POST", "/posts", alice, json=body), 422)
    posts = api.request("GET", f"/users/{alice.username}/posts", alice).json()
    assert posts["items"] == [] and posts["next_cursor"] is None


def test_idempotency_key_returns_the_same_post(api: Feedline) -> None:
    alice = api.register("idem")
    key = str(uuid.uuid4())

    def create() -> dict:
        response = api.request(
            "POST", "/posts", alice, json={"caption": "once"}, headers={"Idempotency-Key": key}
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda _: create(), range(5)))
    assert len({post["id"] for post in results}) == 1
    posts = api.request("GET", f"/users/{alice.username}/posts", alice).json()["items"]
    assert [post["id"] for post in posts] == [results[0]["id"]]


def test_only_the_author_deletes_and_deleted_posts_are_gone(api: Feedline) -> None:
    alice, mallory = api.register("owner"), api.register("mallory")
    post = api.post(alice, "mine")
    assert_problem(api.request("DELETE", f"/posts/{post['id']}", mallory), 403)
    assert api.request("GET", f"/posts/{post['id']}", alice).status_code == 200
    assert api.request("DELETE", f"/posts/{post['id']}", alice).status_code == 204
    assert_problem(api.request("GET", f"/posts/{post['id']}", alice), 404)
    assert_problem(api.request("DELETE", f"/posts/{post['id']}", alice), 404)
    assert_problem(api.request("POST", f"/posts/{post['id']}/like", alice), 404)


def test_unknown_and_malformed_post_ids_are_404(api: Feedline) -> None:
    alice = api.register("unknown")
    for post_id in ("123", "abc", "-1", "99999999999999999999999"):
        assert_problem(api.request("GET", f"/posts/{post_id}", alice), 404)


def test_likes_are_idempotent_and_counted_under_concurrency(api: Feedline) -> None:
    alice = api.register("liked")
    post = api.post(alice, "like me")
    fans = [api.register("liker") for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(
            pool.map(lambda fan: api.request("POST", f"/posts/{post['id']}/like", fan), fans)
        )
    assert all(r.status_code == 200 and r.json()["liked"] is True for r in responses)
    again = api.request("POST", f"/posts/{post['id']}/like", fans[0])
    assert again.json() == {"liked": True, "like_count": 8}
    seen = api.request("GET", f"/posts/{post['id']}", fans[0]).json()
    assert seen["like_count"] == 8 and seen["liked_by_me"] is True
    for _ in range(2):
        unliked = api.request("DELETE", f"/posts/{post['id']}/like", fans[0])
        assert unliked.json() == {"liked": False, "like_count": 7}


def test_a_users_posts_page_newest_first(api: Feedline) -> None:
    alice = api.register("pages")
    ids = [api.post(alice, f"n{i}")["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.request("GET", f"/users/{alice.username}/posts", alice, params=params).json()
        seen.extend(item["id"] for item in page["items"])
        if len(seen) == 2:
            api.post(alice, "arrives between pages")
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


def test_oversized_bodies_are_413(api: Feedline) -> None:
    alice = api.register("big")
    response = api.request("POST", "/posts", alice, json={"caption": "x" * 200_000})
    assert_problem(response, 413)
