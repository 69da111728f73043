"""Profiles: GET/PATCH /users/me, GET /users/{username}, posts_count from post-service."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

from feedline_shared.caches import user_key


async def test_me_returns_the_acting_user_with_posts_count(
    client: httpx.AsyncClient, make_user, post_service
) -> None:
    user = await make_user()
    post_service.counts[int(user["id"])] = 7
    response = await client.get("/users/me", headers={"X-User-ID": user["id"]})
    assert response.status_code == 200
    assert response.json() == {**user, "posts_count": 7}


async def test_posts_count_is_null_when_post_service_is_down(
    client: httpx.AsyncClient, make_user, post_service_down
) -> None:
    user = await make_user()
    response = await client.get(f"/users/{user['username']}")
    assert response.status_code == 200
    assert response.json()["posts_count"] is None
    assert response.json()["id"] == user["id"]


async def test_patch_me_is_visible_in_the_next_read(client: httpx.AsyncClient, make_user) -> None:
    user = await make_user()
    headers = {"X-User-ID": user["id"]}
    patched = await client.patch(
        "/users/me", json={"display_name": "Ada L.", "bio": "Engines"}, headers=headers
    )
    assert patched.status_code == 200
    assert patched.json()["display_name"] == "Ada L."
    assert patched.json()["bio"] == "Engines"

    for path in ("/users/me", f"/users/{user['username'].upper()}"):
        read = await client.get(path, headers=headers)
        assert read.json()["display_name"] == "Ada L."
        assert read.json()["bio"] == "Engines"

    only_bio = await client.patch("/users/me", json={"bio": ""}, headers=headers)
    assert only_bio.json()["bio"] == ""
    assert only_bio.json()["display_name"] == "Ada L."


async def test_patch_me_validates_fields(client: httpx.AsyncClient, make_user) -> None:
    user = await make_user()
    headers = {"X-User-ID": user["id"]}
    for body in ({"bio": "b" * 151}, {"display_name": ""}, {"username": "other"}):
        response = await client.patch("/users/me", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"


async def test_me_needs_an_acting_user(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/me")
    assert response.status_code == 401
    assert response.json()["detail"] == "Missing acting user"


async def test_unknown_username_is_404(client: httpx.AsyncClient, new_username) -> None:
    for name in (new_username(), "not a valid name", "x" * 200):
        response = await client.get(f"/users/{name}")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


async def test_public_routes_refuse_calls_without_internal_token(
    client: httpx.AsyncClient, make_user
) -> None:
    user = await make_user()
    response = await client.get(f"/users/{user['username']}", headers={"X-Internal-Token": "nope"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_profile_change_drops_the_cached_author_summary_before_answering(
    client: httpx.AsyncClient, make_user, settings
) -> None:
    user = await make_user()
    redis = Redis.from_url(settings.redis_url)
    key = user_key(int(user["id"]))
    headers = {"X-User-ID": user["id"]}
    try:
        await redis.set(key, b"{}")
        await client.patch("/users/me", json={"bio": user["bio"]}, headers=headers)
        assert await redis.exists(key), "an update that changes nothing invalidates nothing"
        response = await client.patch("/users/me", json={"display_name": "New"}, headers=headers)
        assert response.status_code == 200
        assert not await redis.exists(key)
    finally:
        await redis.delete(key)
        await redis.aclose()
