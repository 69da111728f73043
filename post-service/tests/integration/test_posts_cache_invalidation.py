"""Likes and deletes invalidate feed-service's cached copies before the response is sent."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from post_service_testing import FakeUserService, as_user, create_post
from redis.asyncio import Redis

from feedline_shared.cache_invalidation import CacheInvalidation
from feedline_shared.caches import liked_key, post_key


async def test_a_like_drops_the_cached_count_and_the_likers_state(
    client: httpx.AsyncClient, user_service: FakeUserService, redis: Redis
) -> None:
    author, fan = user_service.add(), user_service.add()
    post = await create_post(client, author)
    key, state = post_key(int(post["id"])), liked_key(fan.id)
    await redis.hset(key, mapping={"v": "10", "body": "{}", "likes": "0"})
    await redis.hset(state, mapping={"v": "20", post["id"]: "0", "1": "1"})

    response = await client.post(f"/posts/{post['id']}/like", headers=as_user(fan))
    assert response.status_code == 200
    assert await redis.hgetall(key) == {b"body": b"{}", b"v": b"11"}
    assert await redis.hgetall(state) == {b"1": b"1", b"v": b"21"}

    # A repeated like changes nothing, so it invalidates nothing.
    await client.post(f"/posts/{post['id']}/like", headers=as_user(fan))
    assert await redis.hget(key, "v") == b"11"
    await client.delete(f"/posts/{post['id']}/like", headers=as_user(fan))
    assert await redis.hget(key, "v") == b"12"
    assert await redis.hget(state, "v") == b"22"


async def test_a_delete_leaves_a_tombstone_and_a_refused_one_leaves_the_cache_alone(
    client: httpx.AsyncClient, user_service: FakeUserService, redis: Redis
) -> None:
    author, stranger = user_service.add(), user_service.add()
    post = await create_post(client, author)
    key = post_key(int(post["id"]))
    await redis.hset(key, mapping={"v": "10", "body": "{}", "likes": "3"})

    refused = await client.delete(f"/posts/{post['id']}", headers=as_user(stranger))
    assert refused.status_code == 403
    assert await redis.hgetall(key) == {b"v": b"10", b"body": b"{}", b"likes": b"3"}

    deleted = await client.delete(f"/posts/{post['id']}", headers=as_user(author))
    assert deleted.status_code == 204
    assert await redis.hgetall(key) == {b"deleted": b"1", b"v": b"11"}


async def test_changes_still_succeed_while_redis_is_down(
    app: FastAPI, client: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    author, fan = user_service.add(), user_service.add()
    post = await create_post(client, author)
    working = app.state.cache_invalidation
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1, socket_timeout=1)
    app.state.cache_invalidation = CacheInvalidation(down)
    try:
        liked = await client.post(f"/posts/{post['id']}/like", headers=as_user(fan))
        assert liked.status_code == 200
        assert liked.json() == {"liked": True, "like_count": 1}
        unliked = await client.delete(f"/posts/{post['id']}/like", headers=as_user(fan))
        assert unliked.json() == {"liked": False, "like_count": 0}
        deleted = await client.delete(f"/posts/{post['id']}", headers=as_user(author))
        assert deleted.status_code == 204
    finally:
        app.state.cache_invalidation = working
        await down.aclose()
