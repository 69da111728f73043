"""Contract suite: bad input and security, proven against the five real processes.

The system runs on its own ports (18100-18104), its own redis-server (16392), its own database
(``feedline_contract_e2e``) and RabbitMQ vhost (``feedline_contract_e2e``), so it shares nothing
with the end-to-end suite. One extra gateway (18105) points at the same services with low rate
limits, for the 429 tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from feedline_client import Account, Feedline  # noqa: E402
from processes import ProcessSpec, System, http_status, uvicorn_args  # noqa: E402
from servers import RedisServer, fresh_system, wait_until  # noqa: E402

BASE_PORT = int(os.environ.get("CONTRACT_BASE_PORT", "18100"))
LIMITED_GATEWAY_PORT = BASE_PORT + 5
REDIS_PORT = int(os.environ.get("CONTRACT_REDIS_PORT", "16392"))
DATABASE = "feedline_contract_e2e"
VHOST = "feedline_contract_e2e"
AMQP_URL = f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"
LOG_DIR = ROOT / "var" / "contract-log"
CONTRACT_ENV = {
    "ENVIRONMENT": "test",
    "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
    "AMQP_URL": AMQP_URL,
    # DEBUG so that the "passwords never in logs" check reads everything a process can write.
    "LOG_LEVEL": "DEBUG",
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_COST_KIB": "8192",
    "ARGON2_PARALLELISM": "1",
    "RATE_LIMIT_PER_PRINCIPAL": "100000",
    "RATE_LIMIT_PER_ADDRESS": "100000",
}

#: Budgets of the rate-limited gateway. The window is a day so that no test straddles a window
#: boundary (a fixed window resets its count there).
LIMIT_PER_PRINCIPAL = 5
LIMIT_PER_ADDRESS = 3
LIMIT_WINDOW_SECONDS = 86_400

#: The distinctive password every account of this suite is created with; no log may contain it.
PASSWORD = "Zq9-contract-PASSWORD-7f3b"


def ensure_vhost(vhost: str) -> None:
    """Creates the suite's RabbitMQ vhost and grants guest on it (both idempotent)."""
    rabbitmqctl = shutil.which("rabbitmqctl")
    if rabbitmqctl is None:
        raise RuntimeError("rabbitmqctl is required to create the suite's vhost")
    subprocess.run([rabbitmqctl, "-q", "add_vhost", vhost], capture_output=True, timeout=60)
    subprocess.run(
        [rabbitmqctl, "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(REDIS_PORT, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def system(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    ensure_vhost(VHOST)
    with fresh_system(
        base_port=BASE_PORT,
        database=DATABASE,
        amqp_url=AMQP_URL,
        run_dir=tmp_path_factory.mktemp("run"),
        log_dir=LOG_DIR,
        extra_env=CONTRACT_ENV,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def limited_gateway(system: System) -> Iterator[str]:
    """Base URL of a second gateway on the same services, with small rate-limit budgets."""
    limited = System(run_dir=system.run_dir, log_dir=system.log_dir, base_port=BASE_PORT)
    limited.env = {
        **system.env,
        "RATE_LIMIT_PER_PRINCIPAL": str(LIMIT_PER_PRINCIPAL),
        "RATE_LIMIT_PER_ADDRESS": str(LIMIT_PER_ADDRESS),
        "RATE_LIMIT_WINDOW_SECONDS": str(LIMIT_WINDOW_SECONDS),
    }
    spec = ProcessSpec(
        "gateway-limited",
        LIMITED_GATEWAY_PORT,
        uvicorn_args("gateway.app:create_app", LIMITED_GATEWAY_PORT),
    )
    limited.start(spec)
    url = f"http://127.0.0.1:{LIMITED_GATEWAY_PORT}"
    try:
        wait_until(lambda: http_status(f"{url}/readyz") == 200, "limited gateway", 60)
        yield url
    finally:
        limited.stop(spec.name)


@pytest.fixture(scope="session")
def api(system: System) -> Iterator[Feedline]:
    client = Feedline(system.gateway_url)
    yield client
    client.close()


def register(api: Feedline, prefix: str = "c") -> Account:
    """A fresh account created with the suite's distinctive password."""
    username = f"{prefix}_{uuid.uuid4().hex[:12]}"
    response = api.http.post("/auth/register", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(body["user"]["id"], username, body["access_token"], PASSWORD)


@pytest.fixture
def account(api: Feedline) -> Account:
    return register(api)


@pytest.fixture
def other(api: Feedline) -> Account:
    return register(api, "o")


def client_from(address: str, base_url: str) -> httpx.Client:
    """A client whose connections leave from ``address`` (any 127.0.0.0/8 address on Linux), so
    the gateway sees a distinct client address."""
    return httpx.Client(
        base_url=f"{base_url}/api/v1",
        timeout=30,
        transport=httpx.HTTPTransport(local_address=address),
    )


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    """The response is an RFC 9457 problem with this status; returns its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body
