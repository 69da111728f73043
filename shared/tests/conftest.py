import os

import pytest
from redis.asyncio import Redis

from feedline_shared.timelines import TimelineStore

REDIS_URL = os.environ.get("SHARED_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


@pytest.fixture
async def redis():
    client = Redis.from_url(REDIS_URL)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def store(redis):
    return TimelineStore(redis, cap=5, ttl_seconds=60, prefix="t")
