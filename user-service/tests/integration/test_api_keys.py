"""API keys: create (shown once), list (no key material), revoke, verify."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from user_service.models import ApiKey


async def test_api_key_lifecycle(client: httpx.AsyncClient, make_user) -> None:
    user = await make_user()
    headers = {"X-User-ID": user["id"]}
    created = await client.post("/internal/api-keys", json={"name": "ci bot"}, headers=headers)
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "name", "key", "created_at"}
    assert body["key"].startswith("fl_") and len(body["key"]) > 40
    assert body["name"] == "ci bot"

    listed = await client.get("/internal/api-keys", headers=headers)
    assert listed.json() == {
        "items": [
            {
                "id": body["id"],
                "name": "ci bot",
                "created_at": body["created_at"],
                "last_used_at": None,
            }
        ]
    }
    assert body["key"] not in listed.text

    verified = await client.post("/internal/api-keys/verify", json={"key": body["key"]})
    assert verified.status_code == 200
    assert verified.json() == {"user_id": user["id"], "key_id": body["id"]}
    listed = await client.get("/internal/api-keys", headers=headers)
    assert listed.json()["items"][0]["last_used_at"] is not None

    revoked = await client.delete(f"/internal/api-keys/{body['id']}", headers=headers)
    assert revoked.status_code == 204
    assert revoked.content == b""
    after = await client.post("/internal/api-keys/verify", json={"key": body["key"]})
    assert after.status_code == 401
    assert after.json()["detail"] == "Invalid API key"
    assert (await client.get("/internal/api-keys", headers=headers)).json() == {"items": []}
    again = await client.delete(f"/internal/api-keys/{body['id']}", headers=headers)
    assert again.status_code == 204


async def test_keys_are_stored_only_as_sha256(app, client: httpx.AsyncClient, make_user) -> None:
    user = await make_user()
    created = await client.post(
        "/internal/api-keys", json={"name": "k"}, headers={"X-User-ID": user["id"]}
    )
    key = created.json()["key"]
    async with app.state.session_scope() as session:
        row = await session.get(ApiKey, int(created.json()["id"]))
    assert row is not None
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()


async def test_last_used_at_is_written_at_most_once_a_minute(
    app, client: httpx.AsyncClient, make_user
) -> None:
    user = await make_user()
    created = await client.post(
        "/internal/api-keys", json={"name": "k"}, headers={"X-User-ID": user["id"]}
    )
    key, key_id = created.json()["key"], int(created.json()["id"])

    async def last_used():
        async with app.state.session_scope() as session:
            return await session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))

    await client.post("/internal/api-keys/verify", json={"key": key})
    first = await last_used()
    await client.post("/internal/api-keys/verify", json={"key": key})
    assert await last_used() == first

    async with app.state.session_scope() as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id)
            .values(last_used_at=ApiKey.last_used_at - timedelta(minutes=2))
        )
    await client.post("/internal/api-keys/verify", json={"key": key})
    assert await last_used() > first


async def test_unknown_keys_are_401(client: httpx.AsyncClient) -> None:
    for key in ("fl_not-a-key", "sk_live_whatever"):
        response = await client.post("/internal/api-keys/verify", json={"key": key})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert (await client.post("/internal/api-keys/verify", json={})).status_code == 422


async def test_revoking_another_users_key_is_404(client: httpx.AsyncClient, make_user) -> None:
    owner, intruder = await make_user(), await make_user()
    created = await client.post(
        "/internal/api-keys", json={"name": "mine"}, headers={"X-User-ID": owner["id"]}
    )
    key_id = created.json()["id"]
    response = await client.delete(
        f"/internal/api-keys/{key_id}", headers={"X-User-ID": intruder["id"]}
    )
    assert response.status_code == 404
    for bad in ("abc", "0", "99999999999999999999"):
        response = await client.delete(
            f"/internal/api-keys/{bad}", headers={"X-User-ID": owner["id"]}
        )
        assert response.status_code == 404
    verify = await client.post("/internal/api-keys/verify", json={"key": created.json()["key"]})
    assert verify.status_code == 200


async def test_key_names_are_validated(client: httpx.AsyncClient, make_user) -> None:
    user = await make_user()
    for body in ({"name": ""}, {"name": "n" * 101}, {}):
        response = await client.post(
            "/internal/api-keys", json=body, headers={"X-User-ID": user["id"]}
        )
        assert response.status_code == 422
