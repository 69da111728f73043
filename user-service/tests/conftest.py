"""Test session: a fresh `users` schema in feedline_test, migrated by Alembic, and the app running
its lifespan against the real PostgreSQL and RabbitMQ. post-service is stood in by MockTransport.

Tests do not clean up: every test makes its own uniquely named users, so nothing it asserts on is
shared with another test.
"""

from __future__ import annotations

import os

os.environ.setdefault(
    "DATABASE_URL", "postgresql+asyncpg://feedline_users:feedline@127.0.0.1:5432/feedline_test"
)
os.environ.setdefault("DB_SCHEMA", "users")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
os.environ.setdefault("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/feedline_test_users")
os.environ.setdefault("ENVIRONMENT", "test")
# Cheap argon2 so the suite stays fast; the default parameters are exercised in a unit test.
os.environ.setdefault("ARGON2_TIME_COST", "1")
os.environ.setdefault("ARGON2_MEMORY_COST_KIB", "1024")
os.environ.setdefault("ARGON2_PARALLELISM", "1")

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from feedline_shared.migrations import migrate_fresh
from user_service.app import create_app
from user_service.settings import Settings

SERVICE_DIR = Path(__file__).resolve().parents[1]


class PostServiceStandIn:
    """Answers GET /internal/post-counts like post-service, or fails like it is down."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.down = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("post-service is down", request=request)
        if request.url.path != "/internal/post-counts":
            return httpx.Response(404, json={"detail": "not stood in"})
        ids = [int(i) for i in request.url.params["user_ids"].split(",")]
        return httpx.Response(200, json={"counts": {str(i): self.counts.get(i, 0) for i in ids}})


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
async def migrated_schema(settings: Settings) -> str:
    await migrate_fresh(settings.database_url, settings.db_schema, SERVICE_DIR / "alembic.ini")
    return settings.db_schema


@pytest.fixture(scope="session")
def post_service() -> PostServiceStandIn:
    return PostServiceStandIn()


@pytest.fixture(scope="session")
async def app(
    migrated_schema: str, settings: Settings, post_service: PostServiceStandIn
) -> AsyncIterator[FastAPI]:
    application = create_app(settings, transport=httpx.MockTransport(post_service.handle))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://user-service",
        headers={"X-Internal-Token": settings.internal_token},
    ) as http:
        yield http


@pytest.fixture
def post_service_down(post_service: PostServiceStandIn) -> Any:
    post_service.down = True
    yield post_service
    post_service.down = False


def unique_username(prefix: str = "u") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def new_username() -> Any:
    """Makes a username no other test uses."""
    return unique_username


@pytest.fixture
def password() -> str:
    return PASSWORD


PASSWORD = "correct horse battery"


@pytest.fixture
def make_user(client: httpx.AsyncClient) -> Any:
    """Registers a fresh account through the API and returns its User body."""

    async def make(username: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {"username": username or unique_username(), "password": PASSWORD, **extra}
        response = await client.post("/internal/auth/register", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    return make
