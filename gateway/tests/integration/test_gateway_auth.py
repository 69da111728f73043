"""Authentication at the edge: sessions, JWT checks and API keys, over HTTP."""

from __future__ import annotations

import time

import httpx
import jwt
import orjson
import pytest

PROBLEM = "application/problem+json"


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


async def test_register_creates_the_account_and_returns_a_working_token(gateway, services):
    body = {"username": "alice", "password": "correct horse", "display_name": "Alice"}
    response = await gateway.post("/api/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["user"] == services.user
    assert answer["token_type"] == "bearer"
    assert answer["expires_in"] == 3600
    assert response.headers["cache-control"] == "no-store"
    sent = services.to("user-service")[-1]
    assert sent.url.path == "/internal/auth/register"
    assert orjson.loads(sent.content) == body

    me = await gateway.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {answer['access_token']}"}
    )
    assert me.status_code == 200
    assert services.last.headers["x-user-id"] == "42"


async def test_register_conflict_from_user_service_is_relayed(gateway, services):
    services.on(
        "user-service",
        "POST",
        "/internal/auth/register",
        lambda _: services.problem(409, "Username is taken"),
    )
    response = await gateway.post(
        "/api/v1/auth/register", json={"username": "alice", "password": "long enough"}
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == "Username is taken"


async def test_register_body_is_validated_at_the_edge(gateway, services):
    response = await gateway.post(
        "/api/v1/auth/register", json={"username": "a!", "password": "short"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert {e["field"] for e in response.json()["errors"]} == {"username", "password"}
    assert services.requests == []


async def test_token_exchanges_credentials_for_a_token(gateway, services):
    response = await gateway.post(
        "/api/v1/auth/token", json={"username": "alice", "password": "correct horse"}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"access_token", "token_type", "expires_in"}
    claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "42"
    assert {"iat", "exp", "iss", "aud", "jti"} <= set(claims)


async def test_bad_credentials_are_401_with_www_authenticate(gateway, services):
    services.on(
        "user-service",
        "POST",
        "/internal/auth/login",
        lambda _: services.problem(401, "Invalid username or password"),
    )
    response = await gateway.post(
        "/api/v1/auth/token", json={"username": "alice", "password": "wrong password"}
    )
    assert_unauthorized(response)
    assert response.json()["detail"] == "Invalid username or password"


async def test_valid_jwt_reaches_the_service_as_the_user(gateway, services, auth):
    response = await gateway.get("/api/v1/users/me", headers=auth)
    assert response.status_code == 200
    assert services.last.url.path == "/users/me"
    assert services.last.headers["x-user-id"] == "42"


async def test_missing_credentials_are_401(gateway, services):
    assert_unauthorized(await gateway.get("/api/v1/feed"))
    assert_unauthorized(await gateway.get("/api/v1/feed", headers={"Authorization": "Basic x"}))
    assert services.requests == []


async def test_expired_jwt_is_401(gateway, make_token):
    now = int(time.time())
    token = make_token({"iat": now - 7200, "exp": now - 3600})
    response = await gateway.get("/api/v1/feed", headers={"Authorization": f"Bearer {token}"})
    assert_unauthorized(response)
    assert "expired" in response.json()["detail"]


async def test_tampered_jwt_is_401(gateway, make_token):
    head, payload, signature = make_token().split(".")
    forged_payload = jwt.utils.base64url_encode(
        orjson.dumps({**jwt.decode(make_token(), options={"verify_signature": False}), "sub": "1"})
    ).decode()
    for token in (f"{head}.{forged_payload}.{signature}", f"{head}.{payload}.{signature[::-1]}"):
        assert_unauthorized(
            await gateway.get("/api/v1/feed", headers={"Authorization": f"Bearer {token}"})
        )


@pytest.mark.filterwarnings("ignore:The HMAC key")
@pytest.mark.parametrize(
    ("algorithm", "use_secret"), [("none", False), ("HS512", True), ("HS384", True)]
)
async def test_jwt_with_another_algorithm_is_401(gateway, make_token, algorithm, use_secret):
    from gateway.settings import Settings

    secret = Settings().jwt_secret if use_secret else None
    token = jwt.encode(
        jwt.decode(make_token(), options={"verify_signature": False}), secret, algorithm=algorithm
    )
    assert_unauthorized(
        await gateway.get("/api/v1/feed", headers={"Authorization": f"Bearer {token}"})
    )


@pytest.mark.parametrize("claim", ["sub", "exp", "aud"])
async def test_jwt_without_a_required_claim_is_401(gateway, make_token, claim):
    token = make_token(drop=(claim,))
    assert_unauthorized(
        await gateway.get("/api/v1/feed", headers={"Authorization": f"Bearer {token}"})
    )


async def test_api_key_is_verified_by_user_service_and_accepted(gateway, services):
    response = await gateway.get("/api/v1/feed", headers={"X-API-Key": services.good_api_key})
    assert response.status_code == 200
    verify, forwarded = services.requests
    assert verify.url.path == "/internal/api-keys/verify"
    assert orjson.loads(verify.content) == {"key": services.good_api_key}
    assert forwarded.url.path == "/feed"
    assert forwarded.headers["x-user-id"] == "42"


async def test_unknown_or_revoked_api_key_is_401(gateway, services):
    assert_unauthorized(await gateway.get("/api/v1/feed", headers={"X-API-Key": "fl_revoked"}))
    assert [r.url.path for r in services.requests] == ["/internal/api-keys/verify"]


async def test_api_key_is_checked_on_every_request(gateway, services):
    headers = {"X-API-Key": services.good_api_key}
    for _ in range(3):
        assert (await gateway.get("/api/v1/feed", headers=headers)).status_code == 200
    verifications = [r for r in services.requests if r.url.path.endswith("/verify")]
    assert len(verifications) == 3


async def test_api_key_verification_with_user_service_down_is_503(gateway, services):
    services.down.add("user-service")
    response = await gateway.get("/api/v1/feed", headers={"X-API-Key": services.good_api_key})
    assert response.status_code == 503
    assert "user-service" in response.json()["detail"]


async def test_api_keys_routes_map_to_internal_api_keys_with_the_user(gateway, services, auth):
    created = await gateway.post("/api/v1/auth/api-keys", json={"name": "bot"}, headers=auth)
    listed = await gateway.get("/api/v1/auth/api-keys", headers=auth)
    revoked = await gateway.delete("/api/v1/auth/api-keys/9", headers=auth)
    assert [created.status_code, listed.status_code, revoked.status_code] == [200, 200, 200]
    assert [(r.method, r.url.path, r.headers["x-user-id"]) for r in services.requests] == [
        ("POST", "/internal/api-keys", "42"),
        ("GET", "/internal/api-keys", "42"),
        ("DELETE", "/internal/api-keys/9", "42"),
    ]
    assert orjson.loads(services.requests[0].content) == {"name": "bot"}
