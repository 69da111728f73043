"""Author summaries: cached in Redis so most reads make no user-service call; Redis optional."""

from __future__ import annotations

import time

import httpx
import orjson
from post_service_testing import FakeUserService, create_post
from redis.asyncio import Redis

from feedline_shared.caches import user_key as user_cache_key
from feedline_shared.clients import UserServiceClient
from feedline_shared.http import create_internal_client
from feedline_shared.schemas import UserSummary
from post_service.authors import AuthorDirectory
from post_service.settings import Settings


async def test_reads_use_the_cached_summary_and_refresh_after_invalidation(
    client: httpx.AsyncClient, user_service: FakeUserService, redis: Redis
) -> None:
    author = user_service.add()
    calls = user_service.batch_calls
    post = await create_post(client, author)
    assert user_service.batch_calls == calls + 1
    key = user_cache_key(author.id)
    assert key == f"feedline:user:{{{author.id}}}"
    assert orjson.loads(await redis.get(key)) == {
        "id": str(author.id),
        "username": author.username,
        "display_name": author.display_name,
    }
    assert 0 < await redis.ttl(key) <= 300
    for _ in range(3):
        assert (await client.get(f"/posts/{post['id']}")).status_code == 200
    assert user_service.batch_calls == calls + 1
    # What the fanout worker does on user.updated: the next read asks user-service again.
    user_service.users[author.id] = author.model_copy(update={"display_name": "Renamed"})
    await redis.delete(key)
    body = (await client.get(f"/posts/{post['id']}")).json()
    assert body["author"]["display_name"] == "Renamed"
    assert user_service.batch_calls == calls + 2


async def test_lookups_go_straight_to_user_service_when_redis_is_down(
    user_service: FakeUserService, settings: Settings
) -> None:
    author = user_service.add()
    http = create_internal_client(
        settings.internal_token, 2.0, transport=httpx.MockTransport(user_service.handle)
    )
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1, socket_timeout=1)
    directory = AuthorDirectory(
        UserServiceClient(http, "http://user-service"), down, ttl_seconds=300
    )
    try:
        calls = user_service.batch_calls
        expected = {author.id: UserSummary.model_validate(author.model_dump())}
        assert await directory.summaries([author.id, 123_456_789]) == expected
        started = time.monotonic()
        assert await directory.summaries([author.id]) == expected
        # Redis is skipped for a while after a failure instead of being retried each time.
        assert time.monotonic() - started < 0.5
        assert user_service.batch_calls == calls + 2
    finally:
        await http.aclose()
        await down.aclose()
