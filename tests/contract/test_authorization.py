"""The authorisation matrix: who may do what, and every forged or stale credential refused."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from conftest import BASE_PORT, Account, Feedline, System, assert_problem, register

from feedline_shared.settings import DEFAULT_INTERNAL_TOKEN, DEFAULT_JWT_SECRET
from gateway.routing import PUBLIC_ROUTES

CLAIMS_TEMPLATE = {"iss": "feedline", "aud": "feedline-api"}


def claims(sub: str, **override: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": sub,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        **CLAIMS_TEMPLATE,
        **override,
    }


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(payload).encode())}."


def forged_tokens(victim: Account) -> dict[str, str]:
    """Tokens that claim to be ``victim`` but were not minted by the gateway, or are stale."""
    header, payload, signature = victim.token.split(".")
    padded = payload + "=" * (-len(payload) % 4)
    swapped = json.loads(base64.urlsafe_b64decode(padded))
    swapped["sub"] = str(int(victim.id) + 1)
    now = int(time.time())
    return {
        "payload_tampered": f"{header}.{_b64(json.dumps(swapped).encode())}.{signature}",
        "signature_tampered": f"{header}.{payload}.{signature[:-4]}AAAA",
        "wrong_secret": jwt.encode(claims(victim.id), "x" * 48, algorithm="HS256"),
        "expired": jwt.encode(
            claims(victim.id, iat=now - 7200, exp=now - 3600), DEFAULT_JWT_SECRET, "HS256"
        ),
        "alg_none": unsigned(claims(victim.id)),
        "alg_none_upper": unsigned(claims(victim.id), alg="NONE"),
        "hs512_right_secret": jwt.encode(claims(victim.id), DEFAULT_JWT_SECRET, "HS512"),
        "wrong_audience": jwt.encode(
            claims(victim.id, aud="someone-else"), DEFAULT_JWT_SECRET, "HS256"
        ),
        "wrong_issuer": jwt.encode(claims(victim.id, iss="evil"), DEFAULT_JWT_SECRET, "HS256"),
        "no_exp": jwt.encode(
            {k: v for k, v in claims(victim.id).items() if k != "exp"}, DEFAULT_JWT_SECRET
        ),
        "non_numeric_sub": jwt.encode(claims("admin"), DEFAULT_JWT_SECRET, "HS256"),
        "garbage": "not.a.jwt",
        "empty_segments": "..",
    }


TOKEN_KINDS = list(forged_tokens(Account("1", "x", "a.eyJzdWIiOiIxIn0.c", "p")))


@pytest.mark.parametrize("kind", TOKEN_KINDS)
def test_forged_or_expired_token_is_401_and_writes_nothing(
    api: Feedline, account: Account, kind: str
) -> None:
    token = forged_tokens(account)[kind]
    headers = {"Authorization": f"Bearer {token}"}
    for method, path, body in [
        ("GET", "/users/me", None),
        ("GET", "/feed", None),
        ("POST", "/posts", {"caption": f"forged {kind}"}),
        ("PATCH", "/users/me", {"bio": f"forged {kind}"}),
    ]:
        response = api.http.request(method, path, headers=headers, json=body)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
    mine = api.request("GET", f"/users/{account.username}/posts", account).json()
    assert mine["items"] == []
    assert api.request("GET", "/users/me", account).json()["bio"] == ""


def test_missing_credentials_are_401_on_every_authenticated_route(api: Feedline) -> None:
    for method, path in [
        ("GET", "/users/me"),
        ("GET", "/feed"),
        ("POST", "/posts"),
        ("GET", "/auth/api-keys"),
        ("GET", "/users/someone"),
        ("DELETE", "/posts/123"),
    ]:
        response = api.http.request(method, path)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_another_users_post_cannot_be_deleted(api: Feedline, account: Account) -> None:
    other = register(api, "victim")
    post = api.post(other, "mine, not yours")
    assert_problem(api.request("DELETE", f"/posts/{post['id']}", account), 403)
    still = api.request("GET", f"/posts/{post['id']}", other)
    assert still.status_code == 200
    assert still.json()["caption"] == "mine, not yours"


def test_another_users_api_key_cannot_be_revoked(api: Feedline, account: Account) -> None:
    other = register(api, "keyowner")
    created = api.request("POST", "/auth/api-keys", other, json={"name": "bot"}).json()
    assert_problem(api.request("DELETE", f"/auth/api-keys/{created['id']}", account), 404)
    listed = api.request("GET", "/auth/api-keys", other).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    works = api.http.get("/users/me", headers={"X-API-Key": created["key"]})
    assert works.status_code == 200
    assert works.json()["id"] == other.id


def test_no_route_reads_another_users_home_feed(api: Feedline, account: Account) -> None:
    other = register(api, "feedowner")
    author = register(api, "author")
    api.follow(other, author)
    secret = api.post(author, "only in other's feed")
    own_feed = api.feed_ids(account)
    assert secret["id"] not in own_feed
    attempts = [
        api.request("GET", "/feed", account, params={"user_id": other.id}),
        api.request("GET", "/feed", account, params={"user": other.username}),
        api.request("GET", "/feed", account, headers={"X-User-ID": other.id}),
        api.request("GET", f"/feed/{other.id}", account),
        api.request("GET", f"/users/{other.username}/feed", account),
        api.request("GET", f"/feed/{other.username}", account),
    ]
    for response in attempts:
        if response.status_code == 200:
            ids = [item["id"] for item in response.json()["items"]]
            assert secret["id"] not in ids
        else:
            assert_problem(response, response.status_code)
            assert response.status_code in (404, 405)


def test_client_sent_internal_headers_are_ignored(api: Feedline, account: Account) -> None:
    other = register(api, "spoofed")
    response = api.request(
        "POST",
        "/posts",
        account,
        json={"caption": "who wrote me"},
        headers={"X-User-ID": other.id, "X-Internal-Token": "feedline-dev-internal-token"},
    )
    assert response.status_code == 201
    assert response.json()["author"]["id"] == account.id
    me = api.request("GET", "/users/me", account, headers={"X-User-ID": other.id})
    assert me.json()["id"] == account.id


def test_revoked_api_key_is_refused_at_once(api: Feedline, account: Account) -> None:
    created = api.request("POST", "/auth/api-keys", account, json={"name": "revoke me"}).json()
    key_headers = {"X-API-Key": created["key"]}
    assert api.http.get("/users/me", headers=key_headers).status_code == 200
    revoked = api.request("DELETE", f"/auth/api-keys/{created['id']}", account)
    assert revoked.status_code == 204
    for method, path, body in [
        ("GET", "/users/me", None),
        ("POST", "/posts", {"caption": "after revocation"}),
    ]:
        response = api.http.request(method, path, headers=key_headers, json=body)
        assert_problem(response, 401)
    assert api.request("GET", f"/users/{account.username}/posts", account).json()["items"] == []


@pytest.mark.parametrize(
    "key", ["", "flk_" + "0" * 40, "x" * 257, "' OR 1=1 --", "Bearer abc", "\u00e9\u00e9\u00e9"]
)
def test_made_up_api_keys_are_401(api: Feedline, key: str) -> None:
    headers = {"X-API-Key": key.encode("utf-8")}
    response = api.http.get("/users/me", headers=headers)
    assert_problem(response, 401)


def ghost_token() -> str:
    """A correctly signed, current token whose user never existed (only a holder of the signing
    secret could make one): every write refuses it."""
    return jwt.encode(claims(str(2**62 + 777)), DEFAULT_JWT_SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users/me", None),
        ("PATCH", "/users/me", {"bio": "ghost"}),
        ("GET", "/feed", None),
        ("POST", "/auth/api-keys", {"name": "ghost"}),
        ("POST", "/users/{u}/follow", None),
        ("POST", "/posts", {"caption": "ghost post"}),
    ],
)
def test_token_of_a_nonexistent_user_is_refused(
    api: Feedline, account: Account, method: str, path: str, body: dict[str, str] | None
) -> None:
    headers = {"Authorization": f"Bearer {ghost_token()}"}
    before = api.request("GET", "/users/me", account).json()
    response = api.http.request(method, path.format(u=account.username), headers=headers, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)
    assert api.request("GET", "/users/me", account).json() == before


ANONYMOUS_ROUTES = {("POST", "/auth/register"), ("POST", "/auth/token")}


def test_a_deleted_accounts_token_and_api_key_are_refused_on_every_route(api: Feedline) -> None:
    gone, other = register(api, "gone"), register(api, "other")
    post = api.request("POST", "/posts", other, json={"caption": "still here"}).json()
    key = api.request("POST", "/auth/api-keys", gone, json={"name": "bot"}).json()
    response = api.request("DELETE", "/users/me", gone, json={"password": gone.password})
    assert response.status_code == 204, response.text
    values = {"username": other.username, "post_id": post["id"], "key_id": key["id"]}
    bodies = {"/posts": {"caption": "ghost"}, "/auth/api-keys": {"name": "ghost"}}
    checked = 0
    for (method, template), _ in PUBLIC_ROUTES.items():
        if (method, template) in ANONYMOUS_ROUTES:
            continue
        path = template.format(**values)
        body = bodies.get(path, {"password": gone.password} if path == "/users/me" else None)
        for credential in ({"Authorization": f"Bearer {gone.token}"}, {"X-API-Key": key["key"]}):
            response = api.http.request(method, path, headers=credential, json=body)
            assert_problem(response, 401)
            checked += 1
    assert checked == 2 * (len(PUBLIC_ROUTES) - len(ANONYMOUS_ROUTES))
    # Nothing the refused requests asked for happened.
    after = api.request("GET", f"/posts/{post['id']}", other).json()
    assert after["like_count"] == 0
    assert api.request("GET", "/users/me", other).json()["followers_count"] == 0


INTERNAL_ROUTES = [
    (1, "POST", "/internal/auth/register"),
    (1, "POST", "/internal/auth/login"),
    (1, "POST", "/internal/api-keys"),
    (1, "GET", "/internal/api-keys"),
    (1, "POST", "/internal/api-keys/verify"),
    (1, "DELETE", "/internal/api-keys/1"),
    (1, "POST", "/internal/users/batch"),
    (1, "GET", "/internal/users/by-username/someone"),
    (1, "GET", "/internal/users/1/follower-ids"),
    (1, "GET", "/internal/users/1/following-ids"),
    (1, "GET", "/internal/users/1/active"),
    (1, "GET", "/users/me"),
    (2, "POST", "/internal/posts/batch"),
    (2, "POST", "/internal/posts/by-authors"),
    (2, "GET", "/internal/post-counts"),
    (2, "POST", "/internal/users/1/erase"),
    (2, "POST", "/posts"),
    (3, "GET", "/feed"),
]


@pytest.mark.parametrize(("offset", "method", "path"), INTERNAL_ROUTES)
def test_service_routes_refuse_calls_without_the_internal_credential(
    system: System, offset: int, method: str, path: str
) -> None:
    for credential in (None, "", DEFAULT_INTERNAL_TOKEN + "-wrong"):
        headers = {"X-User-ID": "1"}
        if credential is not None:
            headers["X-Internal-Token"] = credential
        response = httpx.request(
            method,
            f"http://127.0.0.1:{BASE_PORT + offset}{path}",
            headers=headers,
            json={} if method == "POST" else None,
            timeout=10,
        )
        assert_problem(response, 401)


def test_internal_routes_are_unreachable_through_the_gateway(
    api: Feedline, account: Account
) -> None:
    for _, method, path in INTERNAL_ROUTES:
        if not path.startswith("/internal/"):
            continue
        for prefix in ("", "/api/v1"):
            response = httpx.request(
                method,
                f"{api.base_url}{prefix}{path}",
                headers=account.headers,
                json={} if method == "POST" else None,
                timeout=10,
            )
            assert response.status_code in (404, 405), (method, prefix + path, response.text)
            assert_problem(response, response.status_code)
