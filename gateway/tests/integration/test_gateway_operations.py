"""Rate limits (real Redis, failing open without it) and readiness."""

from __future__ import annotations

from prometheus_client import REGISTRY


async def test_principal_over_its_limit_is_429_with_retry_after(gateway_factory, auth):
    async with gateway_factory(rate_limit_per_principal=3) as gateway:
        statuses = [(await gateway.get("/api/v1/feed", headers=auth)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = await gateway.get("/api/v1/feed", headers=auth)
        assert limited.headers["content-type"] == "application/problem+json"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.json()["status"] == 429


async def test_each_api_key_has_its_own_budget(gateway_factory, services, auth):
    async with gateway_factory(rate_limit_per_principal=1) as gateway:
        assert (await gateway.get("/api/v1/feed", headers=auth)).status_code == 200
        key = {"X-API-Key": services.good_api_key}
        assert (await gateway.get("/api/v1/feed", headers=key)).status_code == 200
        assert (await gateway.get("/api/v1/feed", headers=key)).status_code == 429


async def test_login_is_limited_per_client_address(gateway_factory):
    body = {"username": "alice", "password": "correct horse"}
    async with gateway_factory(rate_limit_per_address=2) as gateway:
        statuses = [
            (await gateway.post("/api/v1/auth/token", json=body)).status_code for _ in "abc"
        ]
        assert statuses == [200, 200, 429]
    async with gateway_factory(rate_limit_per_address=2, client_address="10.0.0.2") as other:
        assert (await other.post("/api/v1/auth/token", json=body)).status_code == 200


async def test_rate_limiter_fails_open_when_redis_is_down(gateway_factory, auth):
    def fail_open_count() -> float:
        value = REGISTRY.get_sample_value(
            "feedline_gateway_rate_limit_fail_open_total", {"limit": "principal"}
        )
        return value or 0.0

    before = fail_open_count()
    async with gateway_factory(
        redis_url="redis://127.0.0.1:1/0", rate_limit_per_principal=1
    ) as gateway:
        for _ in range(3):
            assert (await gateway.get("/api/v1/feed", headers=auth)).status_code == 200
    assert fail_open_count() == before + 3


async def test_ready_when_redis_and_every_service_answer(gateway):
    response = await gateway.get("/readyz")
    assert response.status_code == 200, response.text
    assert set(response.json()["checks"]) == {
        "redis",
        "user-service",
        "post-service",
        "feed-service",
    }


async def test_not_ready_names_the_service_that_is_down(gateway, services):
    services.down.add("feed-service")
    response = await gateway.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["feed-service"]
    assert (await gateway.get("/healthz")).status_code == 200
