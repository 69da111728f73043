"""The scaling suite's deployment: a Redis Cluster, one full set of Feedline's processes, a
second set of the scalable ones beside it, and a read-only database role standing in for a replica.

Plain functions and constants, imported by conftest.py and the tests (a module of its own, so it
does not collide with another suite's conftest when several suites run in one pytest session).
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(HERE))

from processes import System, process_specs, service_env  # noqa: E402
from servers import delete_worker_queues  # noqa: E402

CLUSTER_PORTS = (17001, 17002, 17003)
BASE_PORT = 18200  # first set: gateway, user, post, feed, worker on 18200..18204
SECOND_BASE_PORT = 18210  # second set: gateway 18210, post 18212, feed 18213, worker 18214
LIMITED_BASE_PORT = 18215  # a gateway with a low per-principal limit, on 18215
LIMITED_PER_PRINCIPAL = 5
DATABASE = "feedline_scaling_e2e"
VHOST = "feedline_scaling_e2e"
AMQP_URL = f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"
READ_ROLE = "feedline_posts_ro"
PG_PORT = os.environ.get("PG_PORT", "5432")
READ_URL = f"postgresql+asyncpg://{READ_ROLE}:feedline@127.0.0.1:{PG_PORT}/{DATABASE}"
FANOUT_CHUNK_SIZE = 2

# Created after the migrations, since a schema reset drops the tables the grants name.
READ_ROLE_SQL = f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READ_ROLE}') THEN
    CREATE ROLE {READ_ROLE} LOGIN PASSWORD 'feedline';
  END IF;
END $$;
ALTER ROLE {READ_ROLE} SET default_transaction_read_only = on;
GRANT CONNECT ON DATABASE {DATABASE} TO {READ_ROLE};
GRANT USAGE ON SCHEMA posts TO {READ_ROLE};
GRANT SELECT ON ALL TABLES IN SCHEMA posts TO {READ_ROLE};
"""


def cluster_env(redis_url: str) -> dict[str, str]:
    return {
        "ENVIRONMENT": "test",
        "REDIS_URL": redis_url,
        "REDIS_CLUSTER": "true",
        "AMQP_URL": AMQP_URL,
        "LOG_LEVEL": "INFO",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST_KIB": "8192",
        "ARGON2_PARALLELISM": "1",
        "RATE_LIMIT_PER_PRINCIPAL": "100000",
        "RATE_LIMIT_PER_ADDRESS": "100000",
        "TIMELINE_CAP": "50",
        # Small pages, so one post's fan-out is many chunk messages both workers compete for.
        "FANOUT_CHUNK_SIZE": str(FANOUT_CHUNK_SIZE),
        "NODE_ID": "1",
    }


def psql_admin(database: str, sql: str) -> str:
    """Runs SQL as the PostgreSQL superuser, the way scripts/bootstrap-db.sh does."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", "psql", "-p", PG_PORT]
    else:
        command = ["psql", "-h", "127.0.0.1", "-p", PG_PORT, "-U", "postgres"]
    result = subprocess.run(
        [*command, "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", database],
        input=sql,
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stdout


async def vhost_exists() -> bool:
    import aio_pika

    try:
        connection = await aio_pika.connect(AMQP_URL, timeout=5)
    except (aio_pika.exceptions.AMQPError, OSError):
        return False
    await connection.close()
    return True


async def reset_broker() -> None:
    await delete_worker_queues(AMQP_URL)


@dataclass
class Deployment:
    """The processes of the suite, by instance."""

    first: System
    second: System
    limited: System

    def port(self, system: System, name: str) -> int:
        return next(s.port for s in process_specs(system.base_port) if s.name == name)

    def metrics_url(self, system: System, name: str) -> str:
        return f"http://127.0.0.1:{self.port(system, name)}/metrics"


def stop_everything(systems: list[System]) -> None:
    """Stops every process at once: each takes about a second to shut down gracefully."""
    running = [(system, name) for system in systems for name in list(system.procs)]
    if running:
        with ThreadPoolExecutor(max_workers=len(running)) as pool:
            list(pool.map(lambda pair: pair[0].stop(pair[1]), running))


def start_second_set(first: System, run_dir: Path, log_dir: Path) -> System:
    """A second post-service (own NODE_ID, reading through the read-only role), feed-service,
    fanout worker and a gateway that reaches them, sharing the first set's user-service."""
    urls = service_env(SECOND_BASE_PORT)
    second = System(run_dir=run_dir, log_dir=log_dir, base_port=SECOND_BASE_PORT)
    second.env = {
        **first.env,
        "POST_SERVICE_URL": urls["POST_SERVICE_URL"],
        "FEED_SERVICE_URL": urls["FEED_SERVICE_URL"],
        "NODE_ID": "2",
    }
    specs = {s.name: s for s in process_specs(SECOND_BASE_PORT)}
    # Only post-service owns a posts database connection; the read URL is for it alone.
    second.env["DATABASE_READ_URL"] = READ_URL
    second.start(specs["post-service"])
    del second.env["DATABASE_READ_URL"]
    for name in ("feed-service", "fanout-worker", "gateway"):
        second.start(specs[name])
    return second


def start_limited_gateway(first: System, run_dir: Path, log_dir: Path) -> System:
    limited = System(run_dir=run_dir, log_dir=log_dir, base_port=LIMITED_BASE_PORT)
    limited.env = {**first.env, "RATE_LIMIT_PER_PRINCIPAL": str(LIMITED_PER_PRINCIPAL)}
    limited.start(next(s for s in process_specs(LIMITED_BASE_PORT) if s.name == "gateway"))
    return limited
