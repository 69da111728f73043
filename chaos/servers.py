"""Throwaway PostgreSQL, Redis and RabbitMQ servers owned by one chaos run.

Faults are injected into these, never into the machine's shared servers. Each server runs in a
session of its own and is stopped by pid (or by its own control tool), so a stop never reaches
another process that happens to share a name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import servers
from servers import port_open

POSTGRES_VERSIONS = Path("/usr/lib/postgresql")
RABBITMQ_LIB = Path("/usr/lib/rabbitmq/bin")


class MissingServer(RuntimeError):
    """A server binary this machine lacks; the chaos run cannot start."""


def wait_until(check, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(interval)


def as_user(user: str, args: list[str]) -> list[str]:
    """Runs ``args`` as ``user`` when we are root (servers refuse to run as root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", user, "--", *args]
    return args


def hand_over(path: Path, user: str) -> None:
    """Gives a directory to the server's OS user, so a root launcher can run it unprivileged."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(path, user, user)


def stop_group(proc: subprocess.Popen[bytes] | None, sig: int, timeout: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def postgres_bin_dir() -> Path:
    versions = sorted(
        (p for p in POSTGRES_VERSIONS.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not versions:
        raise MissingServer(f"no PostgreSQL server binaries under {POSTGRES_VERSIONS}")
    return versions[-1]


class PostgresCluster:
    """A cluster made by initdb in a temp dir, trust auth, listening on loopback only."""

    user = "postgres"

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.bin = postgres_bin_dir()
        self.data = workdir / "pgdata"
        self.socket_dir = workdir / "pgsock"
        self.log = workdir / "postgres.log"
        self.workdir = workdir

    def _ctl(self, *args: str, timeout: float = 60.0) -> None:
        subprocess.run(
            as_user(self.user, [str(self.bin / "pg_ctl"), "-D", str(self.data), *args]),
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def init(self) -> None:
        for path in (self.workdir, self.socket_dir):
            hand_over(path, self.user)
        subprocess.run(
            as_user(
                self.user,
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "--auth=trust",
                    "--username=postgres",
                    "--encoding=UTF8",
                    "--no-sync",
                ],
            ),
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                # A throwaway cluster: durability costs CPU the load needs more.
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\nshared_buffers = 64MB\n"
            )

    def start(self) -> None:
        self._ctl("start", "-w", "-t", "60", "-l", str(self.log))

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("stop", "-w", "-t", "60", "-m", mode)

    def env(self) -> dict[str, str]:
        """Lets psql (bootstrap-db.sh) and the migrations reach this cluster."""
        return {"PG_PORT": str(self.port), "PGHOST": str(self.socket_dir), "PG_HOST": "127.0.0.1"}


class RedisServer(servers.RedisServer):
    """A redis-server without persistence: a restart loses every key, as a crash would."""

    def __init__(self, port: int, workdir: Path) -> None:
        try:
            super().__init__(port, workdir)
        except FileNotFoundError as exc:
            raise MissingServer("redis-server is not installed") from exc


class RabbitNode:
    """A RabbitMQ node of our own (own name, ports, data and logs), management plugin off."""

    user = "rabbitmq"

    def __init__(self, node: str, port: int, dist_port: int, workdir: Path) -> None:
        server = RABBITMQ_LIB / "rabbitmq-server"
        if not server.exists():
            raise MissingServer("rabbitmq-server is not installed")
        self.server = server
        self.ctl = shutil.which("rabbitmqctl") or str(RABBITMQ_LIB / "rabbitmqctl")
        self.node = node
        self.port = port
        self.dist_port = dist_port
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        plugins = self.workdir / "enabled_plugins"
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            "RABBITMQ_PID_FILE": str(self.workdir / "rabbit.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq"),
        }

    def start(self) -> None:
        hand_over(self.workdir, self.user)
        for sub in ("mnesia", "log"):
            hand_over(self.workdir / sub, self.user)
        plugins = self.workdir / "enabled_plugins"
        if not plugins.exists():
            plugins.write_text("[].\n")
            # The default disk alarm (50 MB free) would block publishers on a full temp disk
            # for reasons that are not the fault under test.
            (self.workdir / "rabbitmq.conf").write_text("disk_free_limit.absolute = 1MB\n")
            if os.geteuid() == 0:
                shutil.chown(plugins, self.user, self.user)
        log = open(self.workdir / "server.out", "ab")
        self.proc = subprocess.Popen(
            as_user(self.user, [str(self.server)]),
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        # await_startup fails at once until the Erlang node is registered, so it is retried.
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"RabbitMQ exited; see {self.workdir / 'server.out'}")
            try:
                self.rabbitmqctl("await_startup", "--timeout", "60", timeout=70)
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        wait_until(lambda: port_open(self.port), 30, "RabbitMQ listening")

    def rabbitmqctl(self, *args: str, timeout: float = 60.0) -> str:
        result = subprocess.run(
            [self.ctl, "-q", "-n", self.node, *args],
            env={**os.environ, "RABBITMQ_NODENAME": self.node},
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return result.stdout

    def queue_depths(self) -> dict[str, int]:
        """Messages per queue, ready plus unacknowledged, of the default vhost."""
        out = self.rabbitmqctl("list_queues", "name", "messages", "--no-table-headers")
        depths: dict[str, int] = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                depths[parts[0]] = int(parts[1])
        return depths

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self.rabbitmqctl("stop", timeout=60)
        stop_group(self.proc, signal.SIGTERM, timeout=20)
        self.proc = None
