"""user-service's direct routes (database session and response models included) answer exactly
as FastAPI serving the same routes does, on the same database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import PostServiceStandIn
from test_follows import followed_by

from feedline_shared.direct_check import Case, answers_both_ways, direct_route_keys, served
from user_service.app import create_app
from user_service.routes import api_keys, internal, users
from user_service.settings import Settings


@pytest.fixture(scope="module")
async def reference(
    migrated_schema: str, settings: Settings, post_service: PostServiceStandIn
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, transport=httpx.MockTransport(post_service.handle), direct=False)
    async with served(app, "http://user-service", settings.internal_token) as http:
        yield http


def _cases(star: dict, fans: list[dict]) -> list[Case]:
    star_id, name = star["id"], star["username"]
    acting = {"X-User-ID": fans[0]["id"]}
    ids = f"/internal/users/{star_id}/follower-ids"
    return [
        ("GET", ids, {}),
        ("GET", ids + "?limit=2", {}),
        ("GET", ids + "?limit=2&max_followers=2", {}),
        ("GET", ids + "?limit=2&max_followers=3", {}),
        ("GET", ids + "?limit=0", {}),
        ("GET", ids + "?limit=5001", {}),
        ("GET", ids + "?max_followers=-1", {}),
        ("GET", ids + "?cursor=not-a-cursor", {}),
        ("GET", "/internal/users/999/follower-ids", {}),
        ("GET", "/internal/users/abc/follower-ids", {}),
        ("GET", f"/internal/users/{fans[0]['id']}/following-ids", {}),
        ("GET", f"/internal/users/{star_id}/following-ids", {}),
        ("GET", f"/internal/users/{star_id}/active", {}),
        ("GET", "/internal/users/999/active", {}),
        ("GET", f"/internal/users/by-username/{name.upper()}", {}),
        ("GET", "/internal/users/by-username/nobody-here", {}),
        ("GET", ids, {"X-Internal-Token": "forged"}),
        ("GET", f"/users/{name}", {}),
        ("GET", f"/users/{name}/followers?limit=2", {}),
        ("GET", f"/users/{name}/followers?limit=-3", {}),
        ("GET", f"/users/{fans[0]['username']}/following", {}),
        ("GET", "/users/me", acting),
        ("GET", "/users/me", {}),
        # Idempotent writes answer alike however often they are repeated.
        ("POST", f"/users/{name}/follow", acting),
        ("POST", f"/users/{name}/follow", {"X-User-ID": star_id}),
        ("DELETE", f"/users/{fans[1]['username']}/follow", acting),
        ("GET", "/internal/api-keys", acting),
        ("DELETE", "/internal/api-keys/12345", acting),
    ]


async def test_direct_routes_answer_as_fastapi_does(
    client: httpx.AsyncClient, reference: httpx.AsyncClient, make_user
) -> None:
    star, fans = await followed_by(client, make_user, 3)
    cases = _cases(star, fans)
    expected, answers = await answers_both_ways(client, reference, cases)
    assert answers == expected
    assert {status for status, _, _ in expected} >= {200, 400, 401, 404, 422}


def test_the_session_routes_are_direct() -> None:
    direct = direct_route_keys([users.router, api_keys.router, internal.router])
    assert {
        ("GET", "/internal/users/{user_id}/follower-ids"),
        ("GET", "/internal/users/{user_id}/following-ids"),
        ("GET", "/users/{username}"),
    } <= direct
    # Bodies still go through FastAPI.
    assert ("POST", "/internal/users/batch") not in direct
