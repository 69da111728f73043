"""A service that is down, through the real gateway: its routes answer 503 problem+json at once,
what does not need it keeps working, and everything returns when it does."""

from __future__ import annotations

from feedline_client import Account, Feedline
from processes import System
from test_auth_and_users import assert_problem


def key_of(api: Feedline, account: Account) -> str:
    response = api.request("POST", "/auth/api-keys", account, json={"name": "outage"})
    assert response.status_code == 201, response.text
    return response.json()["key"]


def test_user_service_down_is_503_on_its_routes_and_the_feed_still_serves(
    api: Feedline, system: System
) -> None:
    author, reader = api.register("outauthor"), api.register("outreader")
    api.follow(reader, author)
    post = api.post(author, "before the outage")["id"]
    assert post in api.feed_ids(reader)  # the follow set and timeline are cached now
    key = key_of(api, reader)
    with system.stopped("user-service"):
        assert_problem(api.request("GET", "/users/me", reader), 503)
        assert_problem(api.request("POST", f"/users/{author.username}/follow", reader), 503)
        login = {"username": reader.username, "password": reader.password}
        assert_problem(api.http.post("/auth/token", json=login), 503)
        # API keys are verified by user-service on every request: no key is let through unchecked.
        assert_problem(api.http.get("/feed", headers={"X-API-Key": key}), 503)
        # A session token needs no user-service, and a cached follow set serves the feed.
        assert post in api.feed_ids(reader)
    assert api.request("GET", "/users/me", reader).status_code == 200
    assert api.http.get("/feed", headers={"X-API-Key": key}).status_code == 200


def test_post_service_down_is_503_on_post_routes_and_profiles_still_answer(
    api: Feedline, system: System
) -> None:
    author = api.register("outposts")
    with system.stopped("post-service"):
        assert_problem(api.request("POST", "/posts", author, json={"caption": "lost?"}), 503)
        me = api.request("GET", "/users/me", author)
        assert me.status_code == 200 and me.json()["posts_count"] is None
    # Nothing was half-written: the refused post does not exist.
    assert api.request("GET", f"/users/{author.username}/posts", author).json()["items"] == []
    assert api.post(author, "after the outage")["caption"] == "after the outage"
