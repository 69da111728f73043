"""Throwaway servers for test suites and benchmarks: a private redis-server a suite may stop,
flush or reconfigure without touching the machine's shared one, and the small port helpers."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from migrate import migrate
from processes import System, start_system


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.05)


def wait_port(port: int, timeout: float = 10.0) -> None:
    wait_until(lambda: port_open(port), f"127.0.0.1:{port}", timeout)


#: ``list-max-listpack-size`` for every Redis Feedline starts (compose, make up, tests, bench):
#: list nodes of at most 64 entries (~650 bytes of timeline members) instead of Redis's default
#: 8 KB. A fan-out write pushes onto the head node of a timeline, moving the whole node's bytes:
#: in five side-by-side runs against 4 KB nodes (-1) it cost Redis 9-32 % less per write, at
#: ~12.8 bytes per entry instead of 10.5 (make bench, memory table). A Redis left at the default
#: works the same.
REDIS_LIST_NODE_SIZE = 64


class RedisServer:
    """A redis-server without persistence on its own port: a restart loses every key."""

    def __init__(self, port: int, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is required (make infra installs it)")
        self.binary = binary
        self.port = port
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken: is another run using it?")
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.workdir)]
        args += ["--list-max-listpack-size", str(REDIS_LIST_NODE_SIZE)]
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


async def delete_worker_queues(amqp_url: str) -> None:
    """Drops the fanout worker's queues in a test vhost, so a run starts with none of the last
    run's messages (the worker declares them again at start-up)."""
    import aio_pika

    from fanout_worker.settings import Settings as WorkerSettings

    retry_queues = [f"fanout-worker.retry.{ms}" for ms in WorkerSettings().retry_delays_ms]
    connection = await aio_pika.connect(amqp_url, timeout=5)
    async with connection:
        channel = await connection.channel()
        for name in (
            "fanout-worker.events",
            "fanout-worker.chunks",
            "fanout-worker.dlq",
            *retry_queues,
        ):
            await channel.queue_delete(name)


@contextlib.contextmanager
def fresh_system(
    *,
    base_port: int,
    database: str,
    amqp_url: str,
    run_dir: Path,
    log_dir: Path,
    extra_env: dict[str, str],
) -> Iterator[System]:
    """The five processes on a freshly migrated test database, with no queued messages and no
    old logs, ready when entered and stopped on exit."""
    migrate(database, reset=True)
    asyncio.run(delete_worker_queues(amqp_url))
    shutil.rmtree(log_dir, ignore_errors=True)
    running = start_system(
        base_port=base_port,
        database=database,
        run_dir=run_dir,
        log_dir=log_dir,
        extra_env=extra_env,
    )
    try:
        running.wait_ready(timeout=90)
        yield running
    finally:
        running.stop_all()
