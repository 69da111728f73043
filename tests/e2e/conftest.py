"""End-to-end: the five real processes on their own ports, against real PostgreSQL, RabbitMQ and a
Redis server of the suite's own (so a test may stop and restart it), spoken to over HTTP."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from feedline_client import Feedline  # noqa: E402
from migrate import migrate  # noqa: E402
from processes import System, start_system  # noqa: E402

BASE_PORT = int(os.environ.get("E2E_BASE_PORT", "18000"))
REDIS_PORT = int(os.environ.get("E2E_REDIS_PORT", "16379"))
DATABASE = "feedline_e2e"
VHOST = "feedline_e2e"
AMQP_URL = f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"
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
}


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class RedisServer:
    """A throwaway redis-server owned by the suite, so faults can be injected safely."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is required (make infra installs it)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--zset-max-listpack-entries",
                "1024",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not _port_open(self.port):
            if time.monotonic() > deadline:
                raise TimeoutError("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


async def _reset_broker() -> None:
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL, timeout=5)
    async with connection:
        channel = await connection.channel()
        for name in (
            "fanout-worker.events",
            "fanout-worker.chunks",
            "fanout-worker.dlq",
            "fanout-worker.retry.1000",
            "fanout-worker.retry.5000",
            "fanout-worker.retry.30000",
        ):
            await channel.queue_delete(name)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(REDIS_PORT, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def system(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    migrate(DATABASE, reset=True)
    asyncio.run(_reset_broker())
    log_dir = ROOT / "var" / "e2e-log"
    shutil.rmtree(log_dir, ignore_errors=True)
    running = start_system(
        base_port=BASE_PORT,
        database=DATABASE,
        run_dir=tmp_path_factory.mktemp("run"),
        log_dir=log_dir,
        extra_env=E2E_ENV,
    )
    try:
        running.wait_ready(timeout=90)
        yield running
    finally:
        running.stop_all()


@pytest.fixture(scope="session")
def api(system: System) -> Iterator[Feedline]:
    client = Feedline(system.gateway_url)
    yield client
    client.close()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]
