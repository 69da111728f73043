"""Test session for the fanout worker: real Redis (db 14) and RabbitMQ (vhost
feedline_test_fanout); user-service and post-service are stood in by a tiny HTTP app on a free
loopback port. Each test starts from an empty Redis db and freshly declared queues."""

from __future__ import annotations

import os

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/feedline_test_fanout")
os.environ.setdefault("ENVIRONMENT", "test")
os.environ.setdefault("RETRY_DELAYS_MS", "50,100")
os.environ.setdefault("MAX_ATTEMPTS", "5")
os.environ.setdefault("QUEUE_DEPTH_INTERVAL_SECONDS", "0.2")

import contextlib
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from fanout_standins import StandInServer
from fanout_support import running_worker
from fastapi import FastAPI
from redis.asyncio import Redis

from fanout_worker.settings import Settings
from fanout_worker.topology import all_queues, retry_queue


@pytest.fixture(scope="session")
async def stand_in() -> AsyncIterator[StandInServer]:
    server = StandInServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(os.environ["REDIS_URL"])
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def amqp() -> AsyncIterator[AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(os.environ["AMQP_URL"])
    yield connection
    await connection.close()


@pytest.fixture
async def channel(amqp: AbstractRobustConnection) -> AsyncIterator[AbstractChannel]:
    chan = await amqp.channel()
    yield chan
    with contextlib.suppress(Exception):
        await chan.close()


@pytest.fixture
def settings(stand_in: StandInServer) -> Settings:
    return Settings(user_service_url=stand_in.url, post_service_url=stand_in.url)


async def _delete_topology(connection: AbstractRobustConnection, settings: Settings) -> None:
    chan = await connection.channel()
    for name in all_queues(settings.retry_delays_ms):
        await chan.queue_delete(name)
    for delay in settings.retry_delays_ms:
        await chan.exchange_delete(retry_queue(delay))
    await chan.close()


@pytest.fixture(autouse=True)
async def clean_state(
    stand_in: StandInServer, redis: Redis, amqp: AbstractRobustConnection, settings: Settings
) -> AsyncIterator[None]:
    stand_in.state.reset()
    await redis.flushdb()
    await _delete_topology(amqp, settings)
    yield


@pytest.fixture
async def worker(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_worker(settings) as app:
        yield app
