"""Test session: a fresh `posts` schema in feedline_test, real Redis db 12 and RabbitMQ vhost
feedline_test_posts; user-service is stood in for by an in-test handler (httpx.MockTransport)."""

from __future__ import annotations

import os

os.environ.setdefault(
    "DATABASE_URL", "postgresql+asyncpg://feedline_posts:feedline@127.0.0.1:5432/feedline_test"
)
os.environ.setdefault("DB_SCHEMA", "posts")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/feedline_test_posts")
os.environ.setdefault("ENVIRONMENT", "test")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Relays are driven by the tests that are about them.
os.environ.setdefault("OUTBOX_RELAY_ENABLED", "false")

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from post_service_testing import FakeUserService
from redis.asyncio import Redis

from feedline_shared.db import Database
from feedline_shared.migrations import migrate_fresh
from post_service.app import create_app
from post_service.settings import Settings

SERVICE_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
async def fresh_schema(settings: Settings) -> None:
    await migrate_fresh(settings.database_url, settings.db_schema, SERVICE_ROOT / "alembic.ini")


@pytest.fixture(scope="session")
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def user_service(settings: Settings) -> FakeUserService:
    return FakeUserService(settings.internal_token)


@pytest.fixture(scope="session")
async def app(
    settings: Settings, fresh_schema: None, redis: Redis, user_service: FakeUserService
) -> AsyncIterator[FastAPI]:
    application = create_app(settings, transport=httpx.MockTransport(user_service.handle))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://post-service",
        headers={"X-Internal-Token": settings.internal_token},
    ) as http:
        yield http


@pytest.fixture(scope="session")
def database(app: FastAPI) -> Database:
    return app.state.database  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _user_service_up(user_service: FakeUserService) -> None:
    user_service.down = False
