"""The chaos run's own world: servers, schemas and the five Feedline processes.

Everything here is started by this module and stopped by it, by pid, also when the run fails
or is interrupted.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from chaos.servers import PostgresCluster, RabbitNode, RedisServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from migrate import migrate  # noqa: E402
from processes import ProcessSpec, System, process_specs, start_system  # noqa: E402, F401

BASE_PORT = 19200
PG_PORT = 15433
REDIS_PORT = 16391
AMQP_PORT = 5674
DIST_PORT = 25674
RABBIT_NODE = "chaos@localhost"
DATABASE = "feedline_chaos_test"
RETRY_DELAYS_MS = (500, 2000, 5000)
LOG_DIR = ROOT / "chaos" / "results" / "logs"


def process_env(*, celebrity_threshold: int) -> dict[str, str]:
    return {
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "INFO",
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{AMQP_PORT}/",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST_KIB": "8192",
        "ARGON2_PARALLELISM": "1",
        "RATE_LIMIT_PER_PRINCIPAL": "1000000",
        "RATE_LIMIT_PER_ADDRESS": "1000000",
        # Large enough that no reader's timeline is trimmed, so a feed can be compared whole.
        "TIMELINE_CAP": "1000",
        "CELEBRITY_FOLLOWER_THRESHOLD": str(celebrity_threshold),
        # Shorter back-off than production so the drain after the load is quick, with enough
        # attempts (about 40 s in all) to outlast the longest fault: a message that exhausts
        # its attempts is dead-lettered and its post never reaches built timelines.
        "RETRY_DELAYS_MS": ",".join(str(d) for d in RETRY_DELAYS_MS),
        "MAX_ATTEMPTS": "10",
    }


class ChaosEnvironment:
    def __init__(self, *, celebrity_threshold: int) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="feedline-chaos-"))
        # The servers run as their own OS users and must reach their subfolders.
        os.chmod(self.workdir, 0o755)  # noqa: S103 - holds no secret; servers run as other users
        self.postgres = PostgresCluster(PG_PORT, self.workdir / "postgres")
        self.redis = RedisServer(REDIS_PORT, self.workdir / "redis")
        self.rabbit = RabbitNode(RABBIT_NODE, AMQP_PORT, DIST_PORT, self.workdir / "rabbit")
        self.system: System | None = None
        self.celebrity_threshold = celebrity_threshold
        self._broker_error: BaseException | None = None

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{AMQP_PORT}/"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{PG_PORT}/{DATABASE}"

    def start(self) -> None:
        # The broker takes longest to boot; it comes up while the database is prepared.
        broker = threading.Thread(target=self._start_broker, name="chaos-rabbitmq-start")
        broker.start()
        self.postgres.init()
        self.postgres.start()
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "bootstrap-db.sh"), DATABASE],
            check=True,
            env={**os.environ, **self.postgres.env(), "FEEDLINE_VHOSTS": ""},
            stdout=subprocess.DEVNULL,
            timeout=60,
        )
        # scripts/processes.database_env reads the port from our own environment.
        os.environ["PG_PORT"] = str(PG_PORT)
        os.environ["PG_HOST"] = "127.0.0.1"
        migrate(DATABASE, reset=True)
        self.redis.start()
        broker.join()
        if self._broker_error is not None:
            raise self._broker_error
        shutil.rmtree(LOG_DIR, ignore_errors=True)
        self.system = start_system(
            base_port=BASE_PORT,
            database=DATABASE,
            run_dir=self.workdir / "run",
            log_dir=LOG_DIR,
            extra_env=process_env(celebrity_threshold=self.celebrity_threshold),
        )
        self.system.wait_ready(timeout=90)

    def _start_broker(self) -> None:
        try:
            self.rabbit.start()
        except (OSError, RuntimeError, subprocess.SubprocessError, TimeoutError) as exc:
            self._broker_error = exc

    def stop(self) -> None:
        """Stops everything started, the processes first; safe to call more than once."""
        if self.system is not None:
            self.system.stop_all()
            self.system = None
        for stop in (self.rabbit.stop, self.redis.stop, self.postgres.stop):
            try:
                stop()
            except (subprocess.SubprocessError, OSError) as exc:
                print(f"[chaos] could not stop a server cleanly: {exc}", file=sys.stderr)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def readyz_urls(self) -> dict[str, str]:
        return {s.name: f"http://127.0.0.1:{s.port}/readyz" for s in process_specs(BASE_PORT)}

    async def wait_all_ready(self, within: float) -> dict[str, float]:
        """Polls every process's /readyz until all answer 200.

        Returns, per process, the seconds it took to answer 200 (the slowest one is what made
        the recovery long).
        """
        started = time.monotonic()
        deadline = started + within
        urls = self.readyz_urls()
        ready_after: dict[str, float] = {}
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                statuses = await asyncio.gather(*(_status(client, u) for u in urls.values()))
                for name, status in zip(urls, statuses, strict=True):
                    if status == 200:
                        ready_after.setdefault(name, round(time.monotonic() - started, 1))
                    else:
                        ready_after.pop(name, None)
                if all(s == 200 for s in statuses):
                    return ready_after
                if time.monotonic() > deadline:
                    failing = [n for n, s in zip(urls, statuses, strict=True) if s != 200]
                    raise TimeoutError(f"not ready after {within:.0f} s: {', '.join(failing)}")
                await asyncio.sleep(0.2)


async def _status(client: httpx.AsyncClient, url: str) -> int | None:
    try:
        return (await client.get(url)).status_code
    except httpx.HTTPError:
        return None
