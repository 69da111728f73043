"""Stopping and crashing: a SIGKILL in the middle of a fan-out, graceful stop, readiness."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aio_pika.abc import AbstractChannel
from fanout_standins import StandInServer
from fanout_support import (
    build_timelines,
    has_post,
    holders,
    publish,
    queue_depth,
    running_worker,
    timelines_of,
    wait_for,
)
from redis.asyncio import Redis

from fanout_worker.settings import Settings
from fanout_worker.topology import CHUNKS_QUEUE, EVENTS_QUEUE
from feedline_shared.events import PostCreated
from feedline_shared.timelines import TimelineStore

AUTHOR = 13_000_001
FOLLOWERS = list(range(13_100_000, 13_110_000))
POST = 888_000_000_001
PAGE_DELAY_SECONDS = 0.2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text()[-chars:]


@contextmanager
def _worker_process(stand_in: StandInServer, port: int, log: Path) -> Iterator[subprocess.Popen]:
    env = {
        **os.environ,
        "USER_SERVICE_URL": stand_in.url,
        "POST_SERVICE_URL": stand_in.url,
        "PORT": str(port),
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fanout_worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


async def _wait_ready(port: int, proc: subprocess.Popen, log: Path) -> dict[str, object]:
    body: dict[str, object] = {}

    async def ready() -> bool:
        nonlocal body
        assert proc.poll() is None, f"worker exited early:\n{_tail(log)}"
        try:
            async with httpx.AsyncClient() as client:
                response = await client.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
        except httpx.TransportError:
            return False
        body = response.json()
        return response.status_code == 200

    await wait_for(ready, within=30, interval=0.1, what="the worker process to be ready")
    return body


async def test_worker_killed_mid_fan_out_resumes_and_delivers_exactly_once(
    stand_in: StandInServer, redis: Redis, channel: AbstractChannel, tmp_path: Path
) -> None:
    stand_in.state.followers[AUTHOR] = FOLLOWERS
    stand_in.state.page_delay[AUTHOR] = PAGE_DELAY_SECONDS
    await build_timelines(redis, FOLLOWERS)
    # With the high-water mark set, pages on their first delivery push without reading heads:
    # the pages the kill interrupts come back as redeliveries, which must read them.
    assert await TimelineStore(redis).seed_mark() == "set"
    port, log = _free_port(), tmp_path / "worker.log"

    with _worker_process(stand_in, port, log) as first:
        body = await _wait_ready(port, first, log)
        assert body["checks"] == {"redis": "ok", "rabbitmq": "ok", "user-service": "ok"}

        async def depth_exported() -> bool:
            async with httpx.AsyncClient() as client:
                response = await client.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            return 'feedline_fanout_queue_depth{queue="fanout-worker.dlq"} 0.0' in response.text

        await wait_for(depth_exported, what="queue depth gauges on /metrics")
        await publish(
            channel, PostCreated(post_id=POST, author_id=AUTHOR, created_at=datetime.now(UTC))
        )
        await wait_for(
            lambda: has_post(redis, FOLLOWERS[2000], POST), what="three pages written", within=20
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    partial = await holders(redis, FOLLOWERS, POST)
    assert 3000 <= partial < len(FOLLOWERS), "killed in the middle of the fan-out"

    with _worker_process(stand_in, port, log) as second:
        await _wait_ready(port, second, log)
        await wait_for(
            lambda: has_post(redis, FOLLOWERS[-1], POST), what="the fan-out to resume", within=30
        )
        assert all(timeline == [POST] for timeline in await timelines_of(redis, FOLLOWERS))

        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=20) == 0, _tail(log)
    assert "Traceback" not in _tail(log, 1_000_000)


async def test_stopping_finishes_the_page_in_flight_and_keeps_the_rest_queued(
    stand_in: StandInServer, redis: Redis, channel: AbstractChannel, settings: Settings
) -> None:
    # More than one page, fewer than two.
    followers = list(range(13_200_000, 13_200_000 + settings.fanout_chunk_size * 3 // 2))
    stand_in.state.followers[AUTHOR] = followers
    stand_in.state.page_delay[AUTHOR] = 0.3
    await build_timelines(redis, followers)
    async with running_worker(settings):
        await publish(
            channel, PostCreated(post_id=POST, author_id=AUTHOR, created_at=datetime.now(UTC))
        )

        async def first_page_requested() -> bool:
            return stand_in.state.requests["follower_ids"] == 1

        await wait_for(first_page_requested, what="the first page to be in flight")
    # The worker stopped only after writing the page it was handling and queueing the next one.
    assert await holders(redis, followers, POST) == settings.fanout_chunk_size
    assert await queue_depth(channel, CHUNKS_QUEUE) == 1
    assert await queue_depth(channel, EVENTS_QUEUE) == 0
