"""The shortened chaos run (``python -m chaos --quick``) as a test: fanout-worker kill -9, Redis
stop/start and RabbitMQ stop/start under load, then every verification check."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from chaos.environment import ChaosEnvironment  # noqa: E402
from chaos.run import Plan, exercise  # noqa: E402
from chaos.servers import MissingServer, postgres_bin_dir  # noqa: E402


def missing_server() -> str | None:
    try:
        postgres_bin_dir()
    except MissingServer as exc:
        return str(exc)
    if shutil.which("redis-server") is None:
        return "redis-server is not installed"
    if not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists():
        return "rabbitmq-server is not installed"
    return None


pytestmark = pytest.mark.skipif(missing_server() is not None, reason=str(missing_server()))


def test_acknowledged_writes_and_feeds_survive_worker_redis_and_broker_faults() -> None:
    plan = Plan.make(quick=True, duration=None)
    env = ChaosEnvironment(celebrity_threshold=plan.celebrity_threshold)
    try:
        env.start()
        checks, windows, figures = asyncio.run(exercise(env, plan))
    finally:
        env.stop()
    failed = [f"{c.name}: {c.value}" for c in checks if not c.ok]
    assert len(windows) == 3
    assert figures["requests"] > 0
    assert not failed, f"{failed}\nfigures: {figures}"
