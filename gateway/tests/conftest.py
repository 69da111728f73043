"""Gateway tests: real Redis (db 15), the three services stood in by an httpx.MockTransport."""

from __future__ import annotations

import os

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/feedline_test_gateway")
os.environ.setdefault("ENVIRONMENT", "test")

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import jwt
import orjson
import pytest
from redis.asyncio import Redis

from gateway.app import create_app
from gateway.settings import Settings

USER = {
    "id": "42",
    "username": "alice",
    "display_name": "Alice",
    "bio": "",
    "created_at": "2026-11-24T16:00:00.123Z",
    "followers_count": 0,
    "following_count": 0,
    "posts_count": 0,
}
GOOD_API_KEY = "fl_good_key"
SERVICE_PORTS = {8001: "user-service", 8002: "post-service", 8003: "feed-service"}

Handler = Callable[[httpx.Request], httpx.Response]


def problem(status: int, detail: str, **headers: str) -> httpx.Response:
    body = {"type": "about:blank", "title": "x", "status": status, "detail": detail}
    return httpx.Response(
        status,
        content=orjson.dumps(body),
        headers={"content-type": "application/problem+json", **headers},
    )


class FakeServices:
    """Stands in for user-, post- and feed-service; records what the gateway sent them."""

    user = USER
    good_api_key = GOOD_API_KEY
    problem = staticmethod(problem)

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str, str], Handler] = {}
        self.down: set[str] = set()
        self.on("user-service", "POST", "/internal/api-keys/verify", self._verify_key)
        self.on(
            "user-service",
            "POST",
            "/internal/auth/register",
            lambda _: httpx.Response(201, json=USER),
        )
        self.on(
            "user-service", "POST", "/internal/auth/login", lambda _: httpx.Response(200, json=USER)
        )

    def on(self, service: str, method: str, path: str, handler: Handler) -> None:
        self.routes[(service, method, path)] = handler

    @staticmethod
    def _verify_key(request: httpx.Request) -> httpx.Response:
        if orjson.loads(request.content) == {"key": GOOD_API_KEY}:
            return httpx.Response(200, json={"user_id": "42", "key_id": "7"})
        return problem(401, "Invalid API key", **{"www-authenticate": "Bearer"})

    def to(self, service: str) -> list[httpx.Request]:
        return [r for r in self.requests if SERVICE_PORTS[r.url.port or 0] == service]

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def handle(self, request: httpx.Request) -> httpx.Response:
        service = SERVICE_PORTS[request.url.port or 0]
        if service in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        self.requests.append(request)
        handler = self.routes.get((service, request.method, request.url.path))
        if handler is not None:
            return handler(request)
        return httpx.Response(200, json={"service": service, "path": request.url.path})


def _make_token(
    claims: dict[str, Any] | None = None,
    *,
    secret: str | None = None,
    algorithm: str = "HS256",
    drop: tuple[str, ...] = (),
) -> str:
    settings = Settings()
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": "42",
        "iat": now,
        "exp": now + 600,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": "test",
    }
    payload.update(claims or {})
    for name in drop:
        payload.pop(name)
    return jwt.encode(payload, secret or settings.jwt_secret, algorithm=algorithm)


TokenFactory = Callable[..., str]


@pytest.fixture
def make_token() -> TokenFactory:
    """Signs arbitrary claims (defaults: a valid token for user 42) to probe verification."""
    return _make_token


@pytest.fixture
def auth() -> dict[str, str]:
    """Headers of a caller with a valid session token for user 42."""
    return {"Authorization": f"Bearer {_make_token()}"}


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(os.environ["REDIS_URL"])
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


GatewayFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def gateway_factory(redis: Redis, services: FakeServices) -> GatewayFactory:
    """Builds the gateway with settings overrides, runs its lifespan, speaks to it over ASGI."""

    @asynccontextmanager
    async def factory(
        client_address: str = "127.0.0.1", *, direct: bool = True, **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(
            Settings(**overrides),
            transport=httpx.MockTransport(services.handle),
            direct=direct,
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=(client_address, 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                yield client

    return factory


@pytest.fixture
async def gateway(gateway_factory: GatewayFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_factory() as client:
        yield client
