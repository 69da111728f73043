"""Follow/unfollow, counters under concurrency, follower/following pages, internal id lists."""

from __future__ import annotations

import asyncio

import httpx
from redis.asyncio import Redis

from feedline_shared.caches import following_key
from feedline_shared.cursors import encode_cursor


async def read(client: httpx.AsyncClient, username: str) -> dict:
    response = await client.get(f"/users/{username}")
    assert response.status_code == 200
    return response.json()


async def follow(client: httpx.AsyncClient, follower: dict, followee: dict) -> httpx.Response:
    return await client.post(
        f"/users/{followee['username']}/follow", headers={"X-User-ID": follower["id"]}
    )


async def followed_by(client: httpx.AsyncClient, make_user, count: int) -> tuple[dict, list[dict]]:
    """A new account and ``count`` new accounts following it."""
    star = await make_user()
    fans = await asyncio.gather(*(make_user() for _ in range(count)))
    for fan in fans:
        await follow(client, fan, star)
    return star, list(fans)


async def unfollow(client: httpx.AsyncClient, follower: dict, followee: dict) -> httpx.Response:
    return await client.delete(
        f"/users/{followee['username']}/follow", headers={"X-User-ID": follower["id"]}
    )


async def test_follow_and_unfollow_are_idempotent(client: httpx.AsyncClient, make_user) -> None:
    alice, bob = await make_user(), await make_user()
    for _ in range(2):
        response = await follow(client, alice, bob)
        assert response.status_code == 200
        assert response.json() == {"following": True}
    assert (await read(client, bob["username"]))["followers_count"] == 1
    assert (await read(client, alice["username"]))["following_count"] == 1

    for _ in range(2):
        response = await unfollow(client, alice, bob)
        assert response.status_code == 200
        assert response.json() == {"following": False}
    assert (await read(client, bob["username"]))["followers_count"] == 0
    assert (await read(client, alice["username"]))["following_count"] == 0


async def test_following_yourself_is_422(client: httpx.AsyncClient, make_user) -> None:
    alice = await make_user()
    response = await follow(client, alice, alice)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "You cannot follow yourself"


async def test_following_an_unknown_user_is_404(
    client: httpx.AsyncClient, make_user, new_username
) -> None:
    alice = await make_user()
    ghost = {"username": new_username(), "id": "1"}
    assert (await follow(client, alice, ghost)).status_code == 404
    assert (await unfollow(client, alice, ghost)).status_code == 404


async def test_twenty_concurrent_follows_count_exactly(
    client: httpx.AsyncClient, make_user
) -> None:
    star = await make_user()
    fans = await asyncio.gather(*(make_user() for _ in range(20)))
    responses = await asyncio.gather(*(follow(client, fan, star) for fan in fans))
    assert all(r.status_code == 200 for r in responses)
    assert (await read(client, star["username"]))["followers_count"] == 20

    # The same pair at once: one row, one increment.
    fan = fans[0]
    repeats = await asyncio.gather(*(follow(client, star, fan) for _ in range(20)))
    assert all(r.status_code == 200 for r in repeats)
    assert (await read(client, fan["username"]))["followers_count"] == 1
    assert (await read(client, star["username"]))["following_count"] == 1

    unfollows = await asyncio.gather(*(unfollow(client, f, star) for f in fans[:10]))
    assert all(r.status_code == 200 for r in unfollows)
    assert (await read(client, star["username"]))["followers_count"] == 10


async def test_follower_pages_are_newest_first_without_repeats_or_skips(
    client: httpx.AsyncClient, make_user
) -> None:
    star = await make_user()
    fans = [await make_user() for _ in range(7)]
    for fan in fans:
        await follow(client, fan, star)

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"/users/{star['username']}/followers", params=params)).json()
        seen.extend(item["id"] for item in page["items"])
        assert set(page["items"][0]) == {"id", "username", "display_name"}
        if len(seen) == 3:
            # A follow that arrives mid-paging lands before the cursor, never inside the pages.
            await follow(client, await make_user(), star)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [fan["id"] for fan in reversed(fans)]

    following = await client.get(f"/users/{fans[0]['username']}/following")
    assert following.json() == {
        "items": [
            {"id": star["id"], "username": star["username"], "display_name": star["username"]}
        ],
        "next_cursor": None,
    }


async def test_page_parameters_are_validated(client: httpx.AsyncClient, make_user) -> None:
    user = await make_user()
    path = f"/users/{user['username']}/followers"
    for cursor in ("%%%", "bm90LWpzb24", "eyJ4IjogMX0", "eyJiZWZvcmUiOiAiYWJjIn0"):
        response = await client.get(path, params={"cursor": cursor})
        assert response.status_code == 400, cursor
        assert response.json()["detail"] == "Invalid cursor"
    for limit in (0, 101, "x"):
        assert (await client.get(path, params={"limit": limit})).status_code == 422


async def test_internal_follower_ids_page_in_ascending_order(
    client: httpx.AsyncClient, make_user
) -> None:
    star, fans = await followed_by(client, make_user, 5)
    collected: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await client.get(f"/internal/users/{star['id']}/follower-ids", params=params)
        assert response.status_code == 200
        collected.extend(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert collected == sorted((fan["id"] for fan in fans), key=int)

    too_many = await client.get(f"/internal/users/{star['id']}/follower-ids?limit=5001")
    assert too_many.status_code == 422


async def test_internal_follower_ids_of_an_account_without_followers_is_an_empty_page(
    client: httpx.AsyncClient, make_user
) -> None:
    loner = await make_user()
    past_the_end = encode_cursor({"after": str((1 << 63) - 1)})
    for params in ({}, {"cursor": past_the_end}):
        response = await client.get(f"/internal/users/{loner['id']}/follower-ids", params=params)
        assert response.status_code == 200, params
        assert response.json() == {"items": [], "next_cursor": None, "followers_count": 0}


async def test_internal_follower_ids_carry_the_count_and_stop_past_max_followers(
    client: httpx.AsyncClient, make_user
) -> None:
    star, fans = await followed_by(client, make_user, 3)
    path = f"/internal/users/{star['id']}/follower-ids"
    all_ids = sorted((fan["id"] for fan in fans), key=int)

    first = (await client.get(path, params={"limit": 2})).json()
    assert (first["items"], first["followers_count"]) == (all_ids[:2], 3)
    rest = (await client.get(path, params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert rest == {"items": all_ids[2:], "next_cursor": None, "followers_count": 3}

    at_the_cut = (await client.get(path, params={"max_followers": 3})).json()
    assert at_the_cut["items"] == all_ids
    past_it = await client.get(path, params={"max_followers": 2})
    assert past_it.status_code == 200
    assert past_it.json() == {"items": [], "next_cursor": None, "followers_count": 3}

    assert (await client.get(path, params={"max_followers": -1})).status_code == 422
    unknown = await client.get("/internal/users/1/follower-ids", params={"max_followers": 5})
    assert unknown.status_code == 404


async def test_internal_following_ids_carry_follower_counts(
    client: httpx.AsyncClient, make_user
) -> None:
    fan, a, b = await make_user(), await make_user(), await make_user()
    other = await make_user()
    await follow(client, fan, a)
    await follow(client, fan, b)
    await follow(client, other, b)
    response = await client.get(f"/internal/users/{fan['id']}/following-ids")
    assert response.status_code == 200
    assert sorted(response.json()["items"], key=lambda i: int(i["id"])) == sorted(
        [
            {"id": a["id"], "followers_count": 1, "peak_followers_count": 1},
            {"id": b["id"], "followers_count": 2, "peak_followers_count": 2},
        ],
        key=lambda i: int(i["id"]),
    )


async def test_peak_follower_count_remembers_the_highest_count(
    client: httpx.AsyncClient, make_user
) -> None:
    star, fans = await make_user(), [await make_user() for _ in range(3)]
    for fan in fans:
        await follow(client, fan, star)
    for fan in fans[:2]:
        assert (await unfollow(client, fan, star)).status_code == 200
    response = await client.get(f"/internal/users/{fans[2]['id']}/following-ids")
    assert response.json()["items"] == [
        {"id": star["id"], "followers_count": 1, "peak_followers_count": 3}
    ]


async def test_follow_and_unfollow_invalidate_the_cached_follow_set(
    client: httpx.AsyncClient, make_user, settings
) -> None:
    alice, bob = await make_user(), await make_user()
    redis = Redis.from_url(settings.redis_url)
    key = following_key(int(alice["id"]))
    try:
        await redis.hset(key, mapping={"v": "10", "set": "[]"})
        await follow(client, alice, bob)
        # Before the response: the follower's next feed read cannot use the old set.
        assert await redis.hgetall(key) == {b"v": b"11"}
        await redis.hset(key, "set", "[1]")
        await follow(client, alice, bob)  # no change, nothing to invalidate
        assert await redis.hgetall(key) == {b"set": b"[1]", b"v": b"11"}
        await unfollow(client, alice, bob)
        assert await redis.hgetall(key) == {b"v": b"12"}
        # The followee's own follow set is not touched.
        assert not await redis.exists(following_key(int(bob["id"])))
    finally:
        await redis.delete(key)
        await redis.aclose()


async def test_the_follow_that_passes_the_celebrity_threshold_drops_followers_follow_sets(
    app, client: httpx.AsyncClient, make_user, monkeypatch
) -> None:
    monkeypatch.setattr(app.state.settings, "celebrity_follower_threshold", 3)
    star = await make_user()
    fans = [await make_user() for _ in range(5)]
    redis = Redis.from_url(app.state.settings.redis_url)
    keys = [following_key(int(fan["id"])) for fan in fans]
    try:
        for fan in fans[:3]:
            assert (await follow(client, fan, star)).status_code == 200
        for key in keys:
            await redis.hset(key, mapping={"v": "10", "set": "[]"})
        # The fourth follower takes the peak past 3: the three earlier fans' sets are dropped.
        assert (await follow(client, fans[3], star)).status_code == 200
        assert [await redis.hget(key, "set") for key in keys[:3]] == [None, None, None]
        # The fourth fan's own set goes as for any follow; a fan who does not follow keeps it.
        assert await redis.hget(keys[3], "set") is None
        assert await redis.hget(keys[4], "set") == b"[]"
        # Later follows are ordinary: only the new follower's set changes.
        await redis.hset(keys[0], mapping={"v": "20", "set": "[]"})
        assert (await follow(client, fans[4], star)).status_code == 200
        assert await redis.hget(keys[0], "set") == b"[]"
    finally:
        await redis.delete(*keys)
        await redis.aclose()
