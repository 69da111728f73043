"""The benchmark's own copy of Feedline: database ``feedline_bench``, vhost ``feedline_bench``, a
redis-server it starts on its own port, and the five processes on ports 19100-19104.

Nothing here touches the shared servers' configuration: the shared PostgreSQL and RabbitMQ only
get the bench database and vhost (both idempotent), and Redis is a private instance.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from migrate import migrate  # noqa: E402
from processes import (  # noqa: E402
    DATABASE_ROLES,
    System,
    database_env,
    start_system,
    terminate,
    uvicorn_args,
)
from servers import (  # noqa: E402, F401
    REDIS_LIST_NODE_SIZE,
    RedisServer,
    delete_worker_queues,
    port_open,
    wait_port,
)

__all__ = ["System", "terminate", "uvicorn_args"]

DATABASE = "feedline_bench"
VHOST = "feedline_bench"
BASE_PORT = 19100
REDIS_PORT = 16390
INTERNAL_TOKEN = "feedline-bench-internal-token-0123456789abcdef"
AMQP_URL = f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"


def bench_env(redis_port: int = REDIS_PORT) -> dict[str, str]:
    """Settings of the five processes under benchmark.

    Production defaults everywhere (timeline cap, celebrity threshold, TTLs) except: cheap argon2
    so minting a thousand tokens takes seconds (login is not what is measured), no rate limits
    (one client address sends everything), WARNING logs so the log files stay small.
    """
    return {
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AMQP_URL": AMQP_URL,
        "INTERNAL_TOKEN": INTERNAL_TOKEN,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST_KIB": "8192",
        "ARGON2_PARALLELISM": "1",
        "RATE_LIMIT_PER_PRINCIPAL": "0",
        "RATE_LIMIT_PER_ADDRESS": "0",
    }


def ensure_infra() -> None:
    """Starts/installs PostgreSQL, Redis and RabbitMQ when nothing answers (``make infra``)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "ensure-infra.sh")], check=True)


def bootstrap_database() -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "bootstrap-db.sh"), DATABASE], check=True)


def ensure_vhost() -> None:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError("rabbitmqctl is needed to create the feedline_bench vhost")
    subprocess.run([ctl, "-q", "add_vhost", VHOST], capture_output=True, check=False)
    subprocess.run(
        [ctl, "-q", "set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*"],
        capture_output=True,
        check=True,
    )


async def _empty_schema(url: str, schema: str) -> None:
    # The service role owns its schema but may not create schemas in a non-test database, so
    # the reset drops what is inside the schema instead of the schema itself.
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
        for row in tables:
            await conn.execute(f'DROP TABLE IF EXISTS {schema}."{row["tablename"]}" CASCADE')
    finally:
        await conn.close()


def reset_schemas(database: str = DATABASE) -> None:
    """Empties and re-migrates the users and posts schemas; refuses any other database."""
    if database != DATABASE:
        raise SystemExit(f"refusing to reset schemas in {database}: only {DATABASE}")
    for service, (_role, schema) in DATABASE_ROLES.items():
        asyncio.run(_empty_schema(database_env(service, database)["DATABASE_URL"], schema))
    migrate(database, reset=False)


def reset_broker() -> None:
    asyncio.run(delete_worker_queues(AMQP_URL))


def start(run_dir: Path, log_dir: Path, redis_port: int = REDIS_PORT) -> System:
    shutil.rmtree(log_dir, ignore_errors=True)
    system = start_system(
        base_port=BASE_PORT,
        database=DATABASE,
        run_dir=run_dir,
        log_dir=log_dir,
        extra_env=bench_env(redis_port),
    )
    try:
        system.wait_ready(timeout=90)
    except BaseException:
        system.stop_all()
        raise
    return system


def service_url(name: str) -> str:
    offsets = {"gateway": 0, "user-service": 1, "post-service": 2, "feed-service": 3}
    offsets["fanout-worker"] = 4
    return f"http://127.0.0.1:{BASE_PORT + offsets[name]}"


def pid_of(system: System, name: str) -> int | None:
    proc = system.procs.get(name)
    return proc.pid if proc is not None else None


def postgres_url(service: str) -> str:
    return database_env(service, DATABASE)["DATABASE_URL"].replace("+asyncpg", "")
