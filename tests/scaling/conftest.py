"""Scaling suite fixtures: Feedline on a three-node Redis Cluster, with two instances of the
stateless processes side by side and a read-only database role standing in for a replica.

Everything runs on loopback against the machine's PostgreSQL and RabbitMQ (own database and
vhost) and a Redis Cluster the suite starts and kills itself.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE.parents[1] / "scripts", HERE.parent / "e2e", HERE):
    sys.path.insert(0, str(folder))

from feedline_client import Feedline  # noqa: E402
from migrate import migrate  # noqa: E402
from processes import start_system  # noqa: E402
from redis_cluster_nodes import RedisClusterNodes  # noqa: E402
from scaling_deployment import (  # noqa: E402
    BASE_PORT,
    CLUSTER_PORTS,
    DATABASE,
    READ_ROLE_SQL,
    ROOT,
    VHOST,
    Deployment,
    cluster_env,
    psql_admin,
    reset_broker,
    start_limited_gateway,
    start_second_set,
    stop_everything,
    vhost_exists,
)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    nodes = RedisClusterNodes(CLUSTER_PORTS, tmp_path_factory.mktemp("cluster"))
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture(scope="session")
def database() -> str:
    env = dict(os.environ)
    # rabbitmqctl boots an Erlang VM per call (seconds each): only when the vhost is missing.
    if not asyncio.run(vhost_exists()):
        env["FEEDLINE_VHOSTS"] = VHOST
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "bootstrap-db.sh"), DATABASE],
        check=True,
        capture_output=True,
        timeout=120,
        env=env,
    )
    migrate(DATABASE, reset=True)
    psql_admin(DATABASE, READ_ROLE_SQL)
    asyncio.run(reset_broker())
    return DATABASE


@pytest.fixture(scope="session")
def deployment(
    cluster: RedisClusterNodes, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    log_dir = ROOT / "var" / "scaling-log"
    shutil.rmtree(log_dir, ignore_errors=True)
    first = start_system(
        base_port=BASE_PORT,
        database=database,
        run_dir=tmp_path_factory.mktemp("run-first"),
        log_dir=log_dir / "first",
        extra_env=cluster_env(cluster.url),
    )
    systems = [first]
    try:
        (log_dir / "second").mkdir(parents=True)
        (log_dir / "limited").mkdir(parents=True)
        second = start_second_set(first, tmp_path_factory.mktemp("run-second"), log_dir / "second")
        systems.append(second)
        limited = start_limited_gateway(
            first, tmp_path_factory.mktemp("run-limited"), log_dir / "limited"
        )
        systems.append(limited)
        first.wait_ready(timeout=90)
        second.wait_ready(list(second.procs), timeout=60)
        limited.wait_ready(["gateway"], timeout=60)
        yield Deployment(first, second, limited)
    finally:
        stop_everything(systems)


@pytest.fixture(scope="session")
def api(deployment: Deployment) -> Iterator[Feedline]:
    client = Feedline(deployment.first.gateway_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def api_b(deployment: Deployment) -> Iterator[Feedline]:
    client = Feedline(deployment.second.gateway_url)
    yield client
    client.close()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]
