import os

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/feedline_test_feed")
os.environ.setdefault("ENVIRONMENT", "test")

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from feed_standins import POSTS_URL, USERS_URL, Graph
from redis.asyncio import Redis

from feed_service.app import create_app
from feed_service.settings import Settings
from feedline_shared.settings import DEFAULT_INTERNAL_TOKEN
from feedline_shared.timelines import TimelineStore

MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


def settings_for_tests(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "user_service_url": USERS_URL,
        "post_service_url": POSTS_URL,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(os.environ["REDIS_URL"])
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def graph() -> Graph:
    return Graph()


@pytest.fixture
def store(redis: Redis) -> TimelineStore:
    """The timelines as the fanout worker sees them (default cap)."""
    return TimelineStore(redis, cap=800, ttl_seconds=30 * 86_400)


@pytest.fixture
async def make_client(graph: Graph, redis: Redis) -> AsyncIterator[MakeClient]:
    """Builds an app over the stand-ins (lifespan entered) and a client that acts as a user."""
    async with AsyncExitStack() as stack:

        async def make(
            user_id: int | None = 1, *, direct: bool = True, **overrides: Any
        ) -> httpx.AsyncClient:
            app = create_app(
                settings_for_tests(**overrides), transport=graph.transport(), direct=direct
            )
            await stack.enter_async_context(app.router.lifespan_context(app))
            headers = {"X-Internal-Token": DEFAULT_INTERNAL_TOKEN}
            if user_id is not None:
                headers["X-User-ID"] = str(user_id)
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://feed.test", headers=headers
            )
            await stack.enter_async_context(client)
            client.app = app  # type: ignore[attr-defined]
            return client

        yield make


@pytest.fixture
async def client(make_client: MakeClient) -> httpx.AsyncClient:
    return await make_client()
