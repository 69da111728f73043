"""Rate limits at the gateway: per authenticated principal (user or API key) and per client
address on /auth/register and /auth/token, answered 429 problem+json with Retry-After.

Runs against the extra gateway with small budgets (conftest.limited_gateway). Each test sends
from its own loopback address so that address budgets do not leak between tests.
"""

from __future__ import annotations

import uuid

import httpx
from conftest import (
    LIMIT_PER_ADDRESS,
    LIMIT_PER_PRINCIPAL,
    LIMIT_WINDOW_SECONDS,
    PASSWORD,
    Feedline,
    assert_problem,
    client_from,
    register,
)


def assert_rate_limited(response: httpx.Response) -> None:
    assert_problem(response, 429)
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= LIMIT_WINDOW_SECONDS


def test_login_is_limited_per_client_address(api: Feedline, limited_gateway: str) -> None:
    account = register(api, "rl")
    wrong = {"username": account.username, "password": "wrong-password-guess"}
    with client_from("127.0.0.11", limited_gateway) as guesser:
        for _ in range(LIMIT_PER_ADDRESS):
            assert_problem(guesser.post("/auth/token", json=wrong), 401)
        assert_rate_limited(guesser.post("/auth/token", json=wrong))
        # Even the right password is refused once the address is over its budget.
        right = {"username": account.username, "password": PASSWORD}
        assert_rate_limited(guesser.post("/auth/token", json=right))
        # A forwarded-for header from an untrusted peer does not buy a fresh budget.
        spoofed = guesser.post("/auth/token", json=right, headers={"X-Forwarded-For": "10.9.8.7"})
        assert_rate_limited(spoofed)
    with client_from("127.0.0.12", limited_gateway) as someone_else:
        logged_in = someone_else.post(
            "/auth/token", json={"username": account.username, "password": PASSWORD}
        )
        assert logged_in.status_code == 200, logged_in.text


def test_registration_is_limited_per_client_address(limited_gateway: str) -> None:
    names = [f"rr_{uuid.uuid4().hex[:12]}" for _ in range(LIMIT_PER_ADDRESS + 1)]
    with client_from("127.0.0.13", limited_gateway) as client:
        for name in names[:-1]:
            created = client.post("/auth/register", json={"username": name, "password": PASSWORD})
            assert created.status_code == 201, created.text
        refused = client.post("/auth/register", json={"username": names[-1], "password": PASSWORD})
        assert_rate_limited(refused)
    # The refused registration created nobody: the name is still free.
    with client_from("127.0.0.14", limited_gateway) as client:
        retried = client.post("/auth/register", json={"username": names[-1], "password": PASSWORD})
        assert retried.status_code == 201, retried.text


def test_requests_are_limited_per_user(api: Feedline, limited_gateway: str) -> None:
    account = register(api, "rlu")
    other = register(api, "rlo")
    with httpx.Client(base_url=f"{limited_gateway}/api/v1", timeout=30) as client:
        for _ in range(LIMIT_PER_PRINCIPAL):
            assert client.get("/users/me", headers=account.headers).status_code == 200
        assert_rate_limited(client.get("/users/me", headers=account.headers))
        refused_write = client.post(
            "/posts", headers=account.headers, json={"caption": "over the limit"}
        )
        assert_rate_limited(refused_write)
        # Another user has a budget of their own.
        assert client.get("/users/me", headers=other.headers).status_code == 200
    posts = api.request("GET", f"/users/{account.username}/posts", account).json()
    assert posts["items"] == []


def test_each_api_key_has_its_own_budget(api: Feedline, limited_gateway: str) -> None:
    account = register(api, "rlk")
    key = api.request("POST", "/auth/api-keys", account, json={"name": "bot"}).json()["key"]
    with httpx.Client(base_url=f"{limited_gateway}/api/v1", timeout=30) as client:
        for _ in range(LIMIT_PER_PRINCIPAL):
            assert client.get("/users/me", headers={"X-API-Key": key}).status_code == 200
        assert_rate_limited(client.get("/users/me", headers={"X-API-Key": key}))
        # The owner's session is not starved by the busy key.
        assert client.get("/users/me", headers=account.headers).status_code == 200


def test_default_gateway_limits_are_configurable() -> None:
    from gateway.settings import Settings

    defaults = Settings()
    assert defaults.rate_limit_per_address > 0
    assert defaults.rate_limit_per_principal > 0
    tuned = Settings(
        rate_limit_per_address=7, rate_limit_per_principal=11, rate_limit_window_seconds=30
    )
    assert (tuned.rate_limit_per_address, tuned.rate_limit_per_principal) == (7, 11)
    assert tuned.rate_limit_window_seconds == 30
