"""Forwarding: what reaches the services, what comes back, and what never passes the edge."""

from __future__ import annotations

import httpx
import orjson

from feedline_shared.http import InternalCredentialRefused
from feedline_shared.problems import problem_response

PROBLEM = "application/problem+json"


async def test_client_identity_headers_are_replaced_by_the_gateways(gateway, services, auth):
    headers = {**auth, "X-User-ID": "1", "X-Internal-Token": "forged"}
    response = await gateway.get("/api/v1/users/me", headers=headers)
    assert response.status_code == 200
    sent = services.last
    assert sent.headers.get_list("x-user-id") == ["42"]
    assert sent.headers.get_list("x-internal-token") == ["feedline-dev-internal-token"]


async def test_path_query_body_and_idempotency_key_are_forwarded(gateway, services, auth):
    raw = b'{"caption":  "hello \\u00e9",  "media_url": null}'
    response = await gateway.post(
        "/api/v1/posts?trace=1",
        content=raw,
        headers={**auth, "Content-Type": "application/json", "Idempotency-Key": "k-1"},
    )
    assert response.status_code == 200
    sent = services.last
    assert (sent.method, sent.url.path, sent.url.query) == ("POST", "/posts", b"trace=1")
    assert sent.content == raw
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["idempotency-key"] == "k-1"


async def test_routes_reach_the_service_that_owns_them(gateway, services, auth):
    calls = [
        ("GET", "/api/v1/users/bob", "user-service", "/users/bob"),
        ("POST", "/api/v1/users/bob/follow", "user-service", "/users/bob/follow"),
        ("GET", "/api/v1/users/bob/followers?limit=5", "user-service", "/users/bob/followers"),
        ("GET", "/api/v1/users/bob/posts?limit=5", "post-service", "/users/bob/posts"),
        ("DELETE", "/api/v1/posts/123/like", "post-service", "/posts/123/like"),
        ("GET", "/api/v1/feed?ranking=ranked&limit=3", "feed-service", "/feed"),
    ]
    for method, path, service, upstream_path in calls:
        response = await gateway.request(method, path, headers=auth)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == {"service": service, "path": upstream_path}
    assert services.last.url.query == b"ranking=ranked&limit=3"


async def test_service_answer_is_relayed_byte_for_byte(gateway, services, auth):
    body = b'{"items":[],  "next_cursor":null}'
    services.on(
        "feed-service",
        "GET",
        "/feed",
        lambda _: httpx.Response(
            429,
            content=body,
            headers={"content-type": "application/json", "retry-after": "7", "x-secret": "no"},
        ),
    )
    response = await gateway.get("/api/v1/feed", headers=auth)
    assert response.status_code == 429
    assert response.content == body
    assert response.headers["retry-after"] == "7"
    assert "x-secret" not in response.headers


async def test_no_content_answer_is_relayed(gateway, services, auth):
    services.on("post-service", "DELETE", "/posts/5", lambda _: httpx.Response(204))
    response = await gateway.delete("/api/v1/posts/5", headers=auth)
    assert response.status_code == 204
    assert response.content == b""


async def test_service_problem_is_relayed_with_its_status(gateway, services, auth):
    services.on(
        "post-service", "DELETE", "/posts/5", lambda _: services.problem(403, "Not the author")
    )
    response = await gateway.delete("/api/v1/posts/5", headers=auth)
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == "Not the author"


async def test_internal_paths_are_never_forwarded(gateway, services, auth):
    for path in (
        "/api/v1/internal/users/batch",
        "/api/v1/internal/api-keys/verify",
        "/api/v1/internal/auth/login",
    ):
        response = await gateway.post(path, json={}, headers=auth)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == PROBLEM
    assert services.requests == []


async def test_unknown_path_is_a_404_problem(gateway, auth):
    response = await gateway.get("/api/v1/nothing-here", headers=auth)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert (await gateway.get("/users/me", headers=auth)).status_code == 404


async def test_malformed_ids_and_usernames_are_404_without_a_service_call(gateway, services, auth):
    for path in (
        "/api/v1/posts/abc",
        "/api/v1/posts/0",
        "/api/v1/posts/-1",
        "/api/v1/posts/99999999999999999999",
        "/api/v1/posts/9223372036854775808",
        "/api/v1/users/a!b",
        "/api/v1/users/..",
    ):
        response = await gateway.get(path, headers=auth)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == PROBLEM
    assert services.requests == []


async def test_query_parameters_are_validated_at_the_edge(gateway, services, auth):
    for query in ("limit=0", "limit=101", "limit=x", "ranking=popular"):
        response = await gateway.get(f"/api/v1/feed?{query}", headers=auth)
        assert response.status_code == 422, query
        assert response.headers["content-type"] == PROBLEM
    assert services.requests == []


async def test_malformed_json_is_a_400_problem(gateway, services, auth):
    response = await gateway.post(
        "/api/v1/posts", content=b"{", headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert services.requests == []


async def test_body_over_the_limit_is_a_413_problem(gateway_factory, services, auth):
    async with gateway_factory(max_body_bytes=1024) as gateway:
        big = orjson.dumps({"caption": "x" * 2000})
        response = await gateway.post(
            "/api/v1/posts", content=big, headers={**auth, "Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert response.headers["content-type"] == PROBLEM

        async def chunks():
            yield big[:600]
            yield big[600:]

        streamed = await gateway.post(
            "/api/v1/posts", content=chunks(), headers={**auth, "Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
    assert services.requests == []


async def test_service_down_is_a_503_problem_naming_it(gateway, services, auth):
    services.down.add("post-service")
    response = await gateway.get("/api/v1/posts/5", headers=auth)
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert "post-service" in response.json()["detail"]


async def test_service_timeout_is_a_503_problem_naming_it(gateway, services, auth):
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    services.on("feed-service", "GET", "/feed", slow)
    response = await gateway.get("/api/v1/feed", headers=auth)
    assert response.status_code == 503
    assert "feed-service" in response.json()["detail"]


async def test_service_refusing_the_internal_credential_is_503_not_401(gateway, services, auth):
    refused = problem_response(InternalCredentialRefused("Missing or invalid internal credential"))
    services.on(
        "user-service",
        "GET",
        "/users/me",
        lambda _: httpx.Response(401, content=refused.body, headers={"content-type": PROBLEM}),
    )
    response = await gateway.get("/api/v1/users/me", headers=auth)
    assert response.status_code == 503
    assert "user-service" in response.json()["detail"]


async def test_a_users_own_401_from_a_service_reaches_the_client(gateway, services, auth):
    services.on(
        "post-service",
        "POST",
        "/posts",
        lambda _: services.problem(401, "The acting user does not exist"),
    )
    response = await gateway.post("/api/v1/posts", headers=auth, json={"caption": "x"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_request_id_is_echoed_and_forwarded(gateway, services, auth):
    response = await gateway.get("/api/v1/feed", headers={**auth, "X-Request-ID": "req-123"})
    assert response.headers["x-request-id"] == "req-123"
    assert services.last.headers["x-request-id"] == "req-123"

    generated = await gateway.get("/api/v1/feed", headers=auth)
    assert generated.headers["x-request-id"]
    assert services.last.headers["x-request-id"] == generated.headers["x-request-id"]


async def test_openapi_document_is_served(gateway):
    response = await gateway.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/feed" in paths
    assert set(paths["/api/v1/posts/{post_id}"]) == {"get", "delete"}
    assert (await gateway.get("/docs")).status_code == 200
