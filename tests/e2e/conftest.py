"""End-to-end: the five real processes on their own ports, against real PostgreSQL, RabbitMQ and a
Redis server of the suite's own (so a test may stop and restart it), spoken to over HTTP."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from feedline_client import Feedline  # noqa: E402
from processes import System  # noqa: E402
from servers import RedisServer, fresh_system  # noqa: E402

BASE_PORT = int(os.environ.get("E2E_BASE_PORT", "18000"))
REDIS_PORT = int(os.environ.get("E2E_REDIS_PORT", "16379"))
DATABASE = "feedline_e2e"
VHOST = "feedline_e2e"
AMQP_URL = f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"
# After a Redis failure each process leaves Redis alone this long, filling no cache meanwhile.
REDIS_RETRY_AFTER_SECONDS = 1.0
E2E_ENV = {
    "ENVIRONMENT": "test",
    "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
    "AMQP_URL": AMQP_URL,
    "LOG_LEVEL": "INFO",
    # Cheap password hashing keeps registration-heavy tests fast; production keeps the defaults.
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_COST_KIB": "8192",
    "ARGON2_PARALLELISM": "1",
    # Small caps and thresholds so the cap and celebrity paths are reached with little data.
    "TIMELINE_CAP": "50",
    "CELEBRITY_FOLLOWER_THRESHOLD": "3",
    "RATE_LIMIT_PER_PRINCIPAL": "100000",
    "RATE_LIMIT_PER_ADDRESS": "100000",
    "REDIS_RETRY_AFTER_SECONDS": str(REDIS_RETRY_AFTER_SECONDS),
}


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(REDIS_PORT, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_retry_after_seconds() -> float:
    return REDIS_RETRY_AFTER_SECONDS


@pytest.fixture(scope="session")
def system(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with fresh_system(
        base_port=BASE_PORT,
        database=DATABASE,
        amqp_url=AMQP_URL,
        run_dir=tmp_path_factory.mktemp("run"),
        log_dir=ROOT / "var" / "e2e-log",
        extra_env=E2E_ENV,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def api(system: System) -> Iterator[Feedline]:
    client = Feedline(system.gateway_url)
    yield client
    client.close()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]
