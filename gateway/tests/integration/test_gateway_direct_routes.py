"""Direct routes answer exactly as FastAPI serving the same routes does."""

from __future__ import annotations

from typing import Any

import fastapi.routing
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from feedline_shared.caches import deleted_user_key
from feedline_shared.direct_check import direct_route_keys
from gateway.app import PUBLIC_ROUTERS
from gateway.routing import API_PREFIX

#: Every authenticated public route without a request body.
DIRECT_ROUTES = {
    ("GET", "/auth/api-keys"),
    ("DELETE", "/auth/api-keys/{key_id}"),
    ("GET", "/users/me"),
    ("GET", "/users/{username}"),
    ("POST", "/users/{username}/follow"),
    ("DELETE", "/users/{username}/follow"),
    ("GET", "/users/{username}/followers"),
    ("GET", "/users/{username}/following"),
    ("GET", "/users/{username}/posts"),
    ("GET", "/posts/{post_id}"),
    ("DELETE", "/posts/{post_id}"),
    ("POST", "/posts/{post_id}/like"),
    ("DELETE", "/posts/{post_id}/like"),
    ("GET", "/feed"),
}

CASES: list[tuple[str, str, str, bytes]] = [
    # (method, path and query, credentials, body)
    ("GET", "/api/v1/feed", "token", b""),
    ("GET", "/api/v1/feed?limit=5&ranking=ranked&cursor=abc", "token", b""),
    ("GET", "/api/v1/feed?limit=0", "token", b""),
    ("GET", "/api/v1/feed?limit=x&ranking=popular", "token", b""),
    ("GET", "/api/v1/feed?cursor=" + "c" * 600, "token", b""),
    ("GET", "/api/v1/feed?limit=0", "none", b""),
    ("GET", "/api/v1/feed", "none", b""),
    ("GET", "/api/v1/feed", "bad-token", b""),
    ("GET", "/api/v1/feed", "basic", b""),
    ("GET", "/api/v1/feed", "api-key", b""),
    ("GET", "/api/v1/feed", "bad-api-key", b""),
    ("GET", "/api/v1/feed", "deleted", b""),
    ("GET", "/api/v1/auth/api-keys", "token", b""),
    ("DELETE", "/api/v1/auth/api-keys/7", "token", b""),
    ("DELETE", "/api/v1/auth/api-keys/x7", "token", b""),
    ("GET", "/api/v1/users/me", "token", b""),
    ("GET", "/api/v1/users/me", "api-key", b""),
    ("GET", "/api/v1/users/bob", "token", b""),
    ("GET", "/api/v1/users/a!b", "token", b""),
    ("GET", "/api/v1/users/a!b", "none", b""),
    ("GET", "/api/v1/users/bob", "none", b""),
    ("POST", "/api/v1/users/bob/follow", "token", b""),
    ("DELETE", "/api/v1/users/bob/follow", "token", b'{"why": "a body is forwarded"}'),
    ("GET", "/api/v1/users/bob/followers?limit=5&cursor=xyz", "token", b""),
    ("GET", "/api/v1/users/bob/following?limit=101", "token", b""),
    ("GET", "/api/v1/users/bob%2Fx/posts", "token", b""),
    ("GET", "/api/v1/users/bob/posts?limit=3", "token", b""),
    ("GET", "/api/v1/posts/123", "token", b""),
    ("GET", "/api/v1/posts/123", "token, post-service down", b""),
    ("GET", "/api/v1/posts/0", "token", b""),
    ("GET", "/api/v1/posts/9223372036854775808", "token", b""),
    ("DELETE", "/api/v1/posts/123", "token", b""),
    ("POST", "/api/v1/posts/123/like", "token", b""),
    ("DELETE", "/api/v1/posts/123/like", "api-key", b""),
    ("PUT", "/api/v1/posts/123", "token", b""),
    ("GET", "/api/v1/posts/123/likes", "token", b""),
    ("GET", "/api/v1/internal/anything", "token", b""),
    # Not lane routes: FastAPI serves them either way.
    ("POST", "/api/v1/posts", "token", b'{"caption": "hi"}'),
    ("POST", "/api/v1/auth/token", "none", b'{"username": "alice"}'),
    ("PATCH", "/api/v1/users/me", "token", b'{"display_name": "Alice"}'),
]

ANSWER_HEADERS = ("content-type", "retry-after", "www-authenticate", "allow")
SENT_HEADERS = ("content-type", "x-user-id", "idempotency-key", "x-internal-token")


def _credentials(kind: str, auth: dict[str, str], services: Any) -> dict[str, str]:
    return {
        "token": auth,
        "token, post-service down": auth,
        "deleted": auth,
        "none": {},
        "bad-token": {"Authorization": "Bearer not-a-token"},
        "basic": {"Authorization": "Basic YWxpY2U6cHc="},
        "api-key": {"X-API-Key": services.good_api_key},
        "bad-api-key": {"X-API-Key": "fl_revoked"},
    }[kind]


async def _run_cases(gateway_factory, services, redis: Redis, auth, *, direct: bool):
    """What each case answered and what reached the services, rate limits included."""
    await redis.flushdb()
    services.requests.clear()
    seen = []
    # A day-long window: no window boundary falls between the two runs' counts.
    async with gateway_factory(
        direct=direct, rate_limit_per_principal=40, rate_limit_window_seconds=86400
    ) as gateway:
        for method, url, credentials, body in CASES:
            if credentials == "deleted":
                await redis.set(deleted_user_key(42), 1)
            if credentials.endswith("post-service down"):
                services.down.add("post-service")
            headers = _credentials(credentials, auth, services)
            if body:
                headers = {**headers, "Content-Type": "application/json"}
            before = len(services.requests)
            response = await gateway.request(method, url, headers=headers, content=body)
            await redis.delete(deleted_user_key(42))
            services.down.clear()
            sent = [
                (
                    r.method,
                    str(r.url),
                    r.content,
                    [(name, r.headers.get(name)) for name in SENT_HEADERS],
                )
                for r in services.requests[before:]
            ]
            answer = [(name, response.headers.get(name)) for name in ANSWER_HEADERS]
            seen.append((method, url, response.status_code, response.content, answer, sent))
        # Past the principal's limit: the 429 and its Retry-After come from the same place.
        for _ in range(40):
            last = await gateway.get("/api/v1/feed", headers=auth)
        seen.append(("limit", last.status_code, last.headers.get("retry-after") is not None))
    return seen


async def test_direct_routes_answer_every_case_as_fastapi_does(
    gateway_factory, services, redis, auth
) -> None:
    reference = await _run_cases(gateway_factory, services, redis, auth, direct=False)
    served = await _run_cases(gateway_factory, services, redis, auth, direct=True)
    for expected, actual in zip(reference, served, strict=True):
        assert actual == expected
    statuses = {case[2] for case in reference[:-1]}
    # The cases reach every kind of answer, not one kind many times.
    assert {200, 401, 404, 405, 422, 503} <= statuses
    assert reference[-1] == ("limit", 429, True)


def test_the_authenticated_bodiless_routes_are_direct() -> None:
    assert direct_route_keys(PUBLIC_ROUTERS, API_PREFIX) == DIRECT_ROUTES


async def test_direct_routes_skip_fastapis_dependency_solving(
    gateway_factory, services, auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*_: object, **__: object) -> None:
        raise AssertionError("solved by FastAPI")

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", refuse)
    async with gateway_factory() as gateway:
        for method, template in sorted(DIRECT_ROUTES):
            path = template.format(username="bob", post_id="5", key_id="7")
            response = await gateway.request(method, API_PREFIX + path, headers=auth)
            assert response.status_code == 200, (method, path, response.text)
        assert len(services.requests) == len(DIRECT_ROUTES)


async def test_direct_answers_are_counted_under_their_route_template(gateway_factory, auth) -> None:
    labels = {"service": "gateway", "method": "GET", "route": "/posts/{post_id}", "status": "200"}
    before = REGISTRY.get_sample_value("feedline_http_requests_total", labels) or 0.0
    async with gateway_factory() as gateway:
        for post_id in (1, 2, 3):
            assert (await gateway.get(f"/api/v1/posts/{post_id}", headers=auth)).is_success
    after = REGISTRY.get_sample_value("feedline_http_requests_total", labels)
    assert after == before + 3


async def test_a_service_down_is_the_same_503_problem_on_a_direct_route(
    gateway_factory, services, auth
) -> None:
    services.down.add("feed-service")
    async with gateway_factory() as gateway:
        response = await gateway.get("/api/v1/feed", headers=auth)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "feed-service" in response.json()["detail"]
