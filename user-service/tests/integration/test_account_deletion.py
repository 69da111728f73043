"""Account deletion: the password is asked again, the graph and counters stay exact, the event
goes out with the change, and the caches learn of it before the answer."""

from __future__ import annotations

import asyncio

import httpx
from redis.asyncio import Redis
from sqlalchemy import func, select

from feedline_shared.caches import deleted_user_key, following_key, user_key
from user_service.models import outbox


async def deletion_events(app, user: dict) -> int:
    async with app.state.session_scope() as session:
        return await session.scalar(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.event_type == "user.deleted")
            .where(outbox.c.payload["data"]["user_id"].astext == user["id"])
        )


def acting(user: dict) -> dict[str, str]:
    return {"X-User-ID": user["id"]}


async def delete_account(client: httpx.AsyncClient, user: dict, password: str) -> httpx.Response:
    return await client.request(
        "DELETE", "/users/me", json={"password": password}, headers=acting(user)
    )


async def profile(client: httpx.AsyncClient, user: dict) -> httpx.Response:
    return await client.get(f"/users/{user['username']}")


async def test_wrong_password_is_403_and_deletes_nothing(
    app, client: httpx.AsyncClient, make_user
) -> None:
    alice = await make_user()
    response = await delete_account(client, alice, "not the password")
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "not deleted" in response.json()["detail"]
    assert (await profile(client, alice)).status_code == 200
    assert await deletion_events(app, alice) == 0


async def test_missing_password_is_422(client: httpx.AsyncClient, make_user) -> None:
    alice = await make_user()
    response = await client.request("DELETE", "/users/me", json={}, headers=acting(alice))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "password"


async def test_deletion_removes_the_account_its_follows_and_fixes_every_counter(
    app, client: httpx.AsyncClient, make_user, password
) -> None:
    gone, fan, idol = await make_user(), await make_user(), await make_user()
    assert (await client.post(f"/users/{idol['username']}/follow", headers=acting(gone))).is_success
    assert (await client.post(f"/users/{gone['username']}/follow", headers=acting(fan))).is_success
    key = await client.post("/internal/api-keys", json={"name": "bot"}, headers=acting(gone))
    assert key.status_code == 201

    response = await delete_account(client, gone, password)
    assert response.status_code == 204
    assert response.content == b""

    assert (await profile(client, gone)).status_code == 404
    assert (await profile(client, idol)).json()["followers_count"] == 0
    assert (await profile(client, fan)).json()["following_count"] == 0
    following = await client.get(f"/users/{fan['username']}/following")
    assert following.json()["items"] == []
    verify = await client.post("/internal/api-keys/verify", json={"key": key.json()["key"]})
    assert verify.status_code == 401
    assert await deletion_events(app, gone) == 1


async def test_deleted_accounts_credentials_are_refused_with_401(
    client: httpx.AsyncClient, make_user, password
) -> None:
    gone, other = await make_user(), await make_user()
    assert (await delete_account(client, gone, password)).status_code == 204
    for method, path in (
        ("GET", "/users/me"),
        ("PATCH", "/users/me"),
        ("POST", f"/users/{other['username']}/follow"),
        ("POST", "/internal/api-keys"),
    ):
        body = {"name": "k"} if path.endswith("api-keys") else {}
        response = await client.request(method, path, json=body, headers=acting(gone))
        assert response.status_code == 401, (method, path, response.text)
    # Deleting twice: the credentials behind the second request are already gone.
    assert (await delete_account(client, gone, password)).status_code == 401


async def test_username_is_free_again_after_deletion(
    client: httpx.AsyncClient, make_user, password
) -> None:
    gone = await make_user()
    assert (await delete_account(client, gone, password)).status_code == 204
    again = await make_user(gone["username"])
    assert again["id"] != gone["id"]


async def test_deletion_marks_the_account_and_drops_its_caches_before_answering(
    client: httpx.AsyncClient, make_user, password, settings
) -> None:
    gone, fan = await make_user(), await make_user()
    assert (await client.post(f"/users/{gone['username']}/follow", headers=acting(fan))).is_success
    redis = Redis.from_url(settings.redis_url)
    gone_id, fan_id = int(gone["id"]), int(fan["id"])
    try:
        await redis.set(user_key(gone_id), b'{"id": "1"}')
        await redis.hset(following_key(fan_id), mapping={"v": "10", "set": "[]"})
        assert (await delete_account(client, gone, password)).status_code == 204
        assert await redis.exists(deleted_user_key(gone_id))
        assert 0 < await redis.ttl(deleted_user_key(gone_id))
        assert not await redis.exists(user_key(gone_id))
        # The former follower's cached follow set still named the account: dropped.
        assert await redis.hgetall(following_key(fan_id)) == {b"v": b"11"}
    finally:
        await redis.delete(deleted_user_key(gone_id), following_key(fan_id), user_key(gone_id))
        await redis.aclose()


async def test_follows_racing_the_followees_deletion_are_404_or_kept_exact(
    client: httpx.AsyncClient, make_user, password
) -> None:
    statuses: set[int] = set()
    for _ in range(6):
        doomed = await make_user()
        fans = [await make_user() for _ in range(8)]
        # The deleted account follows half of them, so the deletion locks their rows too.
        for fan in fans[:4]:
            followed = await client.post(f"/users/{fan['username']}/follow", headers=acting(doomed))
            assert followed.status_code == 200
        deletion, *follows = await asyncio.gather(
            delete_account(client, doomed, password),
            *(
                client.post(f"/users/{doomed['username']}/follow", headers=acting(fan))
                for fan in fans
            ),
        )
        assert deletion.status_code == 204
        statuses |= {r.status_code for r in follows}
        assert {r.status_code for r in follows} <= {200, 404}, [r.text for r in follows]
        for fan in fans:
            counts = (await profile(client, fan)).json()
            assert (counts["followers_count"], counts["following_count"]) == (0, 0), fan
    assert statuses


async def test_own_writes_racing_the_deletion_are_401_or_done_before_it(
    client: httpx.AsyncClient, make_user, password
) -> None:
    statuses: set[int] = set()
    for _ in range(6):
        doomed = await make_user()
        deletion, *writes = await asyncio.gather(
            delete_account(client, doomed, password),
            *(
                client.post("/internal/api-keys", json={"name": f"k{i}"}, headers=acting(doomed))
                for i in range(3)
            ),
            *(
                client.patch("/users/me", json={"bio": f"b{i}"}, headers=acting(doomed))
                for i in range(3)
            ),
        )
        assert deletion.status_code == 204
        statuses |= {r.status_code for r in writes}
        assert {r.status_code for r in writes} <= {200, 201, 401}, [r.text for r in writes]
        assert (await profile(client, doomed)).status_code == 404
    assert statuses


async def test_related_deletions_and_unfollows_at_once_end_exact_without_a_500(
    client: httpx.AsyncClient, make_user, password
) -> None:
    async def follow(follower: dict, followee: dict) -> None:
        response = await client.post(
            f"/users/{followee['username']}/follow", headers=acting(follower)
        )
        assert response.status_code == 200

    for _ in range(6):
        first, second = await make_user(), await make_user()
        fans = [await make_user() for _ in range(4)]
        await follow(first, second)
        await follow(second, first)
        for fan in fans:
            await follow(fan, first)
            await follow(fan, second)
        deletions_and_unfollows = await asyncio.gather(
            delete_account(client, first, password),
            delete_account(client, second, password),
            *(
                client.delete(f"/users/{gone['username']}/follow", headers=acting(fan))
                for fan in fans
                for gone in (first, second)
            ),
        )
        assert [r.status_code for r in deletions_and_unfollows[:2]] == [204, 204]
        assert {r.status_code for r in deletions_and_unfollows[2:]} <= {200, 404}
        for fan in fans:
            counts = (await profile(client, fan)).json()
            assert (counts["followers_count"], counts["following_count"]) == (0, 0)
