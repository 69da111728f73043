"""Starts, stops and inspects Feedline's five processes on one machine (``make up/down/status``).

Each process runs in its own session with its pid in ``var/run/<name>.pid`` and its log in
``var/log/<name>.log``, so ``down`` stops exactly what ``up`` started. The end-to-end tests use
the same code on other ports (``start_system``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    port: int
    args: tuple[str, ...]


def uvicorn_args(app: str, port: int) -> tuple[str, ...]:
    return (
        str(BIN / "uvicorn"),
        app,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        # X-Forwarded-For is trusted only where an operator names the proxy
        # (FORWARDED_ALLOW_IPS with --proxy-headers in deploy/); on one box it would let a local
        # client choose its own rate-limit bucket.
        "--no-proxy-headers",
        "--timeout-graceful-shutdown",
        "5",
    )


def process_specs(base_port: int = 8000) -> list[ProcessSpec]:
    apps = [
        ("user-service", "user_service.app:create_app"),
        ("post-service", "post_service.app:create_app"),
        ("feed-service", "feed_service.app:create_app"),
    ]
    specs = [
        ProcessSpec(name, base_port + offset, uvicorn_args(app, base_port + offset))
        for offset, (name, app) in enumerate(apps, start=1)
    ]
    specs.append(
        ProcessSpec("fanout-worker", base_port + 4, (str(BIN / "python"), "-m", "fanout_worker"))
    )
    specs.append(
        ProcessSpec("gateway", base_port, uvicorn_args("gateway.app:create_app", base_port))
    )
    return specs


def service_env(base_port: int = 8000) -> dict[str, str]:
    """URLs each process uses to reach the others, derived from the base port."""
    return {
        "USER_SERVICE_URL": f"http://127.0.0.1:{base_port + 1}",
        "POST_SERVICE_URL": f"http://127.0.0.1:{base_port + 2}",
        "FEED_SERVICE_URL": f"http://127.0.0.1:{base_port + 3}",
    }


DATABASE_ROLES = {
    "user-service": ("feedline_users", "users"),
    "post-service": ("feedline_posts", "posts"),
}


def database_env(name: str, database: str) -> dict[str, str]:
    if name not in DATABASE_ROLES:
        return {}
    role, schema = DATABASE_ROLES[name]
    host = os.environ.get("PG_HOST", "127.0.0.1")
    port = os.environ.get("PG_PORT", "5432")
    password = os.environ.get("FEEDLINE_DB_PASSWORD", "feedline")
    return {
        "DATABASE_URL": f"postgresql+asyncpg://{role}:{password}@{host}:{port}/{database}",
        "DB_SCHEMA": schema,
    }


@dataclass
class System:
    """A set of running processes, stoppable as a whole."""

    run_dir: Path
    log_dir: Path
    base_port: int
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.base_port}"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def start(self, spec: ProcessSpec) -> None:
        env = {**os.environ, **self.env, **database_env(spec.name, self.env["FEEDLINE_DATABASE"])}
        env.update(SERVICE_NAME=spec.name, PORT=str(spec.port))
        log = open(self.log_dir / f"{spec.name}.log", "ab")
        proc = subprocess.Popen(
            spec.args,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.procs[spec.name] = proc
        self.pid_file(spec.name).write_text(str(proc.pid))

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        proc = self.procs.pop(name, None)
        pid = proc.pid if proc else read_pid(self.pid_file(name))
        if pid is not None:
            terminate(pid, sig, timeout)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
        self.pid_file(name).unlink(missing_ok=True)

    def spec(self, name: str) -> ProcessSpec:
        return next(s for s in process_specs(self.base_port) if s.name == name)

    @contextlib.contextmanager
    def stopped(self, name: str) -> Iterator[None]:
        """The process is down inside the block, and started again and ready after it."""
        self.stop(name)
        try:
            yield
        finally:
            self.start(self.spec(name))
            self.wait_ready([name])

    def stop_all(self) -> None:
        for spec in reversed(process_specs(self.base_port)):
            self.stop(spec.name)

    def wait_ready(self, names: list[str] | None = None, timeout: float = 60.0) -> None:
        specs = [s for s in process_specs(self.base_port) if names is None or s.name in names]
        deadline = time.monotonic() + timeout
        for spec in specs:
            while True:
                proc = self.procs.get(spec.name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(
                        f"{spec.name} exited with {proc.returncode}; see "
                        f"{self.log_dir / (spec.name + '.log')}"
                    )
                if http_status(f"http://127.0.0.1:{spec.port}/readyz") == 200:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{spec.name} not ready after {timeout:.0f} s")
                time.sleep(0.2)


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def terminate(pid: int, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Signals the process group the pid leads, then kills it if it outlives ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def runs(pid: int, spec: ProcessSpec) -> bool:
    """The pid is alive and still runs this spec's program: a pid file left by a crash or a
    reboot may name a pid the system has since given to something else, which must not be
    signalled or taken for ours. Without /proc (not Linux) liveness is all there is to go on."""
    if not alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return True
    # The program's arguments (app, port, …) follow its interpreter or launcher in argv.
    return all(arg.encode() in cmdline for arg in spec.args[1:])


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def start_system(
    *, base_port: int, database: str, run_dir: Path, log_dir: Path, extra_env: dict[str, str]
) -> System:
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    system = System(run_dir=run_dir, log_dir=log_dir, base_port=base_port)
    system.env = {**service_env(base_port), "FEEDLINE_DATABASE": database, **extra_env}
    for spec in process_specs(base_port):
        system.start(spec)
    return system


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status"])
    args = parser.parse_args()
    run_dir, log_dir = ROOT / "var" / "run", ROOT / "var" / "log"
    base_port = int(os.environ.get("FEEDLINE_BASE_PORT", "8000"))
    specs = process_specs(base_port)

    if args.command == "status":
        for spec in specs:
            pid = read_pid(run_dir / f"{spec.name}.pid")
            state = "running" if pid and runs(pid, spec) else "stopped"
            ready = http_status(f"http://127.0.0.1:{spec.port}/readyz")
            print(f"{spec.name:14} {state:8} pid={pid or '-':<8} :{spec.port} readyz={ready}")
        return 0

    if args.command == "down":
        for spec in reversed(specs):
            pid = read_pid(run_dir / f"{spec.name}.pid")
            if pid and runs(pid, spec):
                terminate(pid)
                print(f"stopped {spec.name} (pid {pid})")
            (run_dir / f"{spec.name}.pid").unlink(missing_ok=True)
        return 0

    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    system = System(run_dir=run_dir, log_dir=log_dir, base_port=base_port)
    system.env = {
        **service_env(base_port),
        "FEEDLINE_DATABASE": os.environ.get("FEEDLINE_DATABASE", "feedline"),
    }
    for spec in specs:
        pid = read_pid(system.pid_file(spec.name))
        if pid and runs(pid, spec):
            print(f"{spec.name} already running (pid {pid})")
            continue
        system.start(spec)
        print(f"started {spec.name} (pid {system.procs[spec.name].pid}, port {spec.port})")
    try:
        system.wait_ready(timeout=90)
    except (RuntimeError, TimeoutError) as exc:
        print(f"not ready: {exc}; logs in {log_dir}", file=sys.stderr)
        return 1
    url = system.gateway_url
    print(f"\nFeedline is up: {url}  (logs: make logs, stop: make down)\n")
    print("Try it:")
    print(
        f"  curl -s -X POST {url}/api/v1/auth/register -H 'Content-Type: application/json' "
        '-d \'{"username": "alice", "password": "correct horse"}\''
    )
    print(f'  curl -s {url}/api/v1/feed -H "Authorization: Bearer $TOKEN"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
