"""The Auth and Users sections of the public contract, through the gateway."""

from __future__ import annotations

import uuid

from feedline_client import Feedline, eventually

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body


def test_register_returns_user_and_a_working_token(api: Feedline) -> None:
    username = f"Reg_{uuid.uuid4().hex[:8]}"
    response = api.http.post(
        "/auth/register",
        json={"username": username, "password": "longenough1", "display_name": "Réka", "bio": "hi"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    user = body["user"]
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    assert isinstance(user["id"], str) and user["id"].isdigit()
    assert user["username"] == username.lower()
    assert user["display_name"] == "Réka" and user["bio"] == "hi"
    assert user["followers_count"] == 0 and user["following_count"] == 0
    assert user["posts_count"] == 0
    assert user["created_at"].endswith("Z")
    me = api.http.get("/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == user["id"]


def test_username_is_taken_case_insensitively(api: Feedline) -> None:
    account = api.register("dup")
    response = api.http.post(
        "/auth/register", json={"username": account.username.upper(), "password": "longenough1"}
    )
    assert_problem(response, 409)


def test_registration_validation_names_the_fields(api: Feedline) -> None:
    response = api.http.post("/auth/register", json={"username": "a!", "password": "short"})
    body = assert_problem(response, 422)
    fields = {error["field"] for error in body["errors"]}
    assert {"username", "password"} <= fields


def test_malformed_json_is_a_400_problem(api: Feedline) -> None:
    response = api.http.post(
        "/auth/register", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400)


def test_login_failures_look_the_same_for_unknown_user_and_wrong_password(api: Feedline) -> None:
    account = api.register("login")
    ok = api.http.post(
        "/auth/token", json={"username": account.username, "password": account.password}
    )
    assert ok.status_code == 200 and ok.json()["access_token"]
    wrong = api.http.post(
        "/auth/token", json={"username": account.username, "password": "nope1234"}
    )
    unknown = api.http.post("/auth/token", json={"username": "nobody_x_1", "password": "nope1234"})
    wrong_body, unknown_body = assert_problem(wrong, 401), assert_problem(unknown, 401)
    assert wrong_body["detail"] == unknown_body["detail"]
    assert wrong.headers["www-authenticate"].startswith("Bearer")


def test_requests_without_valid_credentials_are_401(api: Feedline) -> None:
    assert_problem(api.http.get("/users/me"), 401)
    bad = api.http.get("/users/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert_problem(bad, 401)
    assert bad.headers["www-authenticate"].startswith("Bearer")
    assert_problem(api.http.get("/users/me", headers={"X-API-Key": "fl_unknown"}), 401)


def test_api_keys_are_shown_once_listed_without_secret_and_revoked_at_once(api: Feedline) -> None:
    account = api.register("keys")
    created = api.request("POST", "/auth/api-keys", account, json={"name": "bot"})
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["name"] == "bot" and key["key"] and key["id"] and key["created_at"]
    listed = api.request("GET", "/auth/api-keys", account)
    assert listed.status_code == 200
    items = listed.json() if isinstance(listed.json(), list) else listed.json()["items"]
    assert [item["id"] for item in items] == [key["id"]]
    assert "key" not in items[0] and key["key"] not in listed.text
    me = api.http.get("/users/me", headers={"X-API-Key": key["key"]})
    assert me.status_code == 200 and me.json()["id"] == account.id
    assert api.request("DELETE", f"/auth/api-keys/{key['id']}", account).status_code == 204
    assert_problem(api.http.get("/users/me", headers={"X-API-Key": key["key"]}), 401)


def test_profile_update_is_visible_on_the_next_read(api: Feedline) -> None:
    account = api.register("prof")
    patched = api.request("PATCH", "/users/me", account, json={"display_name": "New", "bio": "b"})
    assert patched.status_code == 200 and patched.json()["display_name"] == "New"
    public = api.request("GET", f"/users/{account.username}", account).json()
    assert public["display_name"] == "New" and public["bio"] == "b"
    too_long = api.request("PATCH", "/users/me", account, json={"bio": "x" * 151})
    assert_problem(too_long, 422)


def test_unknown_user_is_404(api: Feedline) -> None:
    account = api.register("look")
    assert_problem(api.request("GET", "/users/nobody_at_all_here", account), 404)
    assert_problem(api.request("POST", "/users/nobody_at_all_here/follow", account), 404)


def test_follow_is_idempotent_and_counts_stay_right(api: Feedline) -> None:
    alice, bob = api.register("alice"), api.register("bob")
    for _ in range(2):
        response = api.request("POST", f"/users/{bob.username}/follow", alice)
        assert response.status_code == 200 and response.json() == {"following": True}
    assert api.request("GET", f"/users/{bob.username}", alice).json()["followers_count"] == 1
    assert api.request("GET", "/users/me", alice).json()["following_count"] == 1
    for _ in range(2):
        response = api.request("DELETE", f"/users/{bob.username}/follow", alice)
        assert response.status_code == 200 and response.json() == {"following": False}
    assert api.request("GET", f"/users/{bob.username}", alice).json()["followers_count"] == 0


def test_following_yourself_is_422(api: Feedline) -> None:
    alice = api.register("self")
    assert_problem(api.request("POST", f"/users/{alice.username}/follow", alice), 422)


def test_followers_pages_are_newest_first_without_repeats(api: Feedline) -> None:
    star = api.register("star")
    fans = [api.register("fan") for _ in range(5)]
    for fan in fans:
        api.follow(fan, star)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.request("GET", f"/users/{star.username}/followers", star, params=params).json()
        assert all(set(item) >= {"id", "username", "display_name"} for item in page["items"])
        seen.extend(item["username"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [fan.username for fan in reversed(fans)]
    following = api.request("GET", f"/users/{fans[0].username}/following", star).json()
    assert [item["username"] for item in following["items"]] == [star.username]


def test_bad_cursor_and_limit_are_client_errors(api: Feedline) -> None:
    alice = api.register("curs")
    assert_problem(
        api.request("GET", f"/users/{alice.username}/followers", alice, params={"cursor": "%%%"}),
        400,
    )
    for limit in (0, 101, "x"):
        response = api.request(
            "GET", f"/users/{alice.username}/followers", alice, params={"limit": limit}
        )
        assert_problem(response, 422)


def test_request_id_is_echoed_or_generated(api: Feedline) -> None:
    echoed = api.http.get("/users/me", headers={"X-Request-ID": "e2e-req-1"})
    assert echoed.headers["x-request-id"] == "e2e-req-1"
    assert api.http.get("/users/me").headers["x-request-id"]


def test_internal_routes_are_not_reachable_through_the_gateway(api: Feedline) -> None:
    alice = api.register("intr")
    for path in ("/internal/users/batch", "/internal/api-keys/verify"):
        response = api.request("POST", path, alice, json={"ids": [alice.id]})
        assert_problem(response, 404)


def test_account_deletion_asks_the_password_again(api: Feedline) -> None:
    account = api.register("keep")
    response = api.request("DELETE", "/users/me", account, json={"password": "not it at all"})
    assert_problem(response, 403)
    assert api.request("GET", "/users/me", account).status_code == 200
    assert_problem(api.request("DELETE", "/users/me", account, json={}), 422)


def test_deleted_account_is_gone_everywhere_and_its_credentials_are_refused(
    api: Feedline,
) -> None:
    gone, fan, friend = api.register("gone"), api.register("fan"), api.register("friend")
    api.follow(fan, gone)
    api.follow(gone, friend)
    own = api.post(gone, "soon erased")
    liked = api.post(friend, "liked by the account")
    assert api.request("POST", f"/posts/{liked['id']}/like", gone).status_code == 200
    key = api.request("POST", "/auth/api-keys", gone, json={"name": "bot"}).json()["key"]
    eventually(lambda: own["id"] in api.feed_ids(fan))

    response = api.request("DELETE", "/users/me", gone, json={"password": gone.password})
    assert response.status_code == 204, response.text

    # Its session token and API key are refused from the next request on, on every route.
    for method, path in (
        ("GET", "/users/me"),
        ("GET", "/feed"),
        ("GET", f"/users/{friend.username}"),
        ("GET", f"/posts/{liked['id']}"),
        ("POST", f"/posts/{liked['id']}/like"),
        ("POST", "/posts"),
    ):
        body = {"caption": "ghost"} if path == "/posts" else None
        assert_problem(api.request(method, path, gone, json=body), 401)
    assert_problem(api.http.get("/users/me", headers={"X-API-Key": key}), 401)

    assert_problem(api.request("GET", f"/users/{gone.username}", fan), 404)
    assert api.request("GET", f"/users/{fan.username}", fan).json()["following_count"] == 0
    assert api.request("GET", f"/users/{friend.username}", fan).json()["followers_count"] == 0
    # Its posts and likes are erased through the events: gone from the feed, the post route and
    # the like count.
    eventually(lambda: own["id"] not in api.feed_ids(fan))
    eventually(lambda: api.request("GET", f"/posts/{own['id']}", fan).status_code == 404)
    eventually(lambda: api.request("GET", f"/posts/{liked['id']}", fan).json()["like_count"] == 0)
    # The name is free again.
    response = api.http.post(
        "/auth/register", json={"username": gone.username, "password": "another password"}
    )
    assert response.status_code == 201, response.text
