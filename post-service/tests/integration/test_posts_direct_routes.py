"""post-service's direct routes (database session and response models included) answer exactly
as FastAPI serving the same routes does, on the same database and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from post_service_testing import FakeUserService, as_user, create_post
from redis.asyncio import Redis

from feedline_shared.direct_check import answers_both_ways, direct_route_keys, served
from post_service.app import create_app
from post_service.routes import internal, public
from post_service.settings import Settings


@pytest.fixture(scope="module")
async def reference(
    settings: Settings, fresh_schema: None, redis: Redis, user_service: FakeUserService
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, transport=httpx.MockTransport(user_service.handle), direct=False)
    async with served(app, "http://post-service", settings.internal_token) as http:
        yield http


async def test_direct_routes_answer_as_fastapi_does(
    client: httpx.AsyncClient, reference: httpx.AsyncClient, user_service: FakeUserService
) -> None:
    author, fan = user_service.add(), user_service.add()
    posts = [await create_post(client, author, caption=f"post {i}") for i in range(3)]
    first, gone = posts[0]["id"], posts[2]["id"]
    assert (await client.delete(f"/posts/{gone}", headers=as_user(author))).status_code == 204
    cases = [
        ("GET", f"/posts/{first}", as_user(fan)),
        ("GET", f"/posts/{first}", {}),
        ("GET", f"/posts/{gone}", as_user(fan)),
        ("GET", "/posts/abc", as_user(fan)),
        ("GET", f"/users/{author.username}/posts", as_user(fan)),
        ("GET", f"/users/{author.username}/posts?limit=1", as_user(fan)),
        ("GET", f"/users/{author.username}/posts?limit=0", as_user(fan)),
        ("GET", f"/users/{author.username}/posts?cursor=bad", as_user(fan)),
        ("GET", "/users/nobody_at_all/posts", as_user(fan)),
        # Idempotent writes answer alike however often they are repeated.
        ("POST", f"/posts/{first}/like", as_user(fan)),
        ("DELETE", f"/posts/{posts[1]['id']}/like", as_user(fan)),
        ("POST", f"/posts/{gone}/like", as_user(fan)),
        ("DELETE", f"/posts/{first}", as_user(fan)),
        ("DELETE", f"/posts/{gone}", as_user(author)),
        ("GET", f"/posts/{first}", {"X-Internal-Token": "forged"}),
    ]
    expected, answers = await answers_both_ways(client, reference, cases)
    assert answers == expected
    assert {status for status, _, _ in expected} >= {200, 401, 403, 404, 422}


def test_the_session_routes_are_direct() -> None:
    direct = direct_route_keys([public.router, internal.router])
    assert {("GET", "/posts/{post_id}"), ("GET", "/users/{username}/posts")} <= direct
    assert ("POST", "/posts") not in direct
