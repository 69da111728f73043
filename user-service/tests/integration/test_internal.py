"""Internal lookups and the internal credential on every route."""

from __future__ import annotations

import httpx
import pytest


async def test_batch_returns_known_users_with_follower_counts(
    client: httpx.AsyncClient, make_user
) -> None:
    a, b = await make_user(), await make_user(display_name="Bee")
    response = await client.post(
        "/internal/users/batch", json={"ids": [a["id"], b["id"], "999", a["id"]]}
    )
    assert response.status_code == 200
    items = sorted(response.json()["items"], key=lambda i: int(i["id"]))
    assert items == sorted(
        [
            {
                "id": a["id"],
                "username": a["username"],
                "display_name": a["username"],
                "followers_count": 0,
            },
            {"id": b["id"], "username": b["username"], "display_name": "Bee", "followers_count": 0},
        ],
        key=lambda i: int(i["id"]),
    )


async def test_batch_validates_ids(client: httpx.AsyncClient) -> None:
    for ids in (["abc"], ["0"], [str(1 << 63)], [str(i) for i in range(1, 1002)]):
        response = await client.post("/internal/users/batch", json={"ids": ids})
        assert response.status_code == 422


async def test_active_and_by_username(client: httpx.AsyncClient, make_user) -> None:
    user = await make_user()
    active = await client.get(f"/internal/users/{user['id']}/active")
    assert active.json() == {"active": True}
    by_name = await client.get(f"/internal/users/by-username/{user['username'].upper()}")
    assert by_name.status_code == 200
    assert by_name.json()["id"] == user["id"]


@pytest.mark.parametrize("user_id", ["999", "0", "-1", "abc", str(1 << 63), "1" * 40])
async def test_unknown_or_malformed_user_ids_are_404(
    client: httpx.AsyncClient, user_id: str
) -> None:
    for suffix in ("active", "follower-ids", "following-ids"):
        response = await client.get(f"/internal/users/{user_id}/{suffix}")
        assert response.status_code == 404, (user_id, suffix)
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/internal/users/batch"),
        ("GET", "/internal/users/by-username/someone"),
        ("GET", "/internal/users/1/follower-ids"),
        ("GET", "/internal/users/1/following-ids"),
        ("GET", "/internal/users/1/active"),
        ("POST", "/internal/auth/login"),
        ("POST", "/internal/api-keys"),
        ("GET", "/internal/api-keys"),
        ("DELETE", "/internal/api-keys/1"),
        ("POST", "/internal/api-keys/verify"),
        ("GET", "/users/me"),
        ("POST", "/users/someone/follow"),
        ("GET", "/users/someone/followers"),
    ],
)
async def test_routes_refuse_calls_without_internal_token(app, method: str, path: str) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://user-service"
    ) as anonymous:
        response = await anonymous.request(method, path, headers={"X-User-ID": "1"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "Missing or invalid internal credential"


async def test_operations_routes_need_no_credential(app) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://user-service"
    ) as anonymous:
        assert (await anonymous.get("/healthz")).status_code == 200
        ready = await anonymous.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"postgres": "ok", "rabbitmq": "ok"}
        assert (await anonymous.get("/metrics")).status_code == 200
