"""A throwaway three-master Redis Cluster on loopback, owned by the scaling suite."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is required (make infra installs redis)")
    return path


class RedisClusterNodes:
    """Three ``redis-server --cluster-enabled yes`` masters, one slot range each, no replicas."""

    def __init__(self, ports: tuple[int, ...], workdir: Path) -> None:
        self.ports = ports
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self, timeout: float = 20.0) -> None:
        for port in self.ports:
            if port_open(port):
                raise RuntimeError(f"port {port} is taken; the cluster needs it")
        server = _binary("redis-server")
        for port in self.ports:
            node_dir = self.workdir / str(port)
            node_dir.mkdir(parents=True, exist_ok=True)
            self.procs.append(
                subprocess.Popen(
                    [
                        server,
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(node_dir / "nodes.conf"),
                        "--cluster-node-timeout",
                        "2000",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(node_dir),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + timeout
        for port in self.ports:
            while not port_open(port):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"redis-server on {port} did not start")
                time.sleep(0.05)
        subprocess.run(
            [
                _binary("redis-cli"),
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        # Every node must agree before a client relies on its slot map.
        for port in self.ports:
            while "cluster_state:ok" not in self.cli(port, "cluster", "info"):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"cluster not ok on node {port}")
                time.sleep(0.1)

    def cli(self, port: int, *args: str) -> str:
        result = subprocess.run(
            [_binary("redis-cli"), "-p", str(port), *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return result.stdout

    def keys_per_node(self, pattern: str) -> dict[int, int]:
        """How many keys matching ``pattern`` each master holds."""
        return {
            port: len(self.cli(port, "--scan", "--pattern", pattern).split()) for port in self.ports
        }

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait(timeout=10)
        self.procs.clear()
