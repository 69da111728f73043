"""The faults: each takes one dependency or process away, then brings it back.

A fault window runs from the moment the fault is injected until every process answers /readyz
with 200 again.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from chaos.environment import BASE_PORT, ChaosEnvironment, ProcessSpec, process_specs

RECOVERY_TIMEOUT_SECONDS = 120.0


@dataclass
class FaultWindow:
    name: str
    started: float
    recovered: float | None = None
    error: str | None = None
    #: Seconds from the end of the injection until each process answered /readyz 200.
    ready_after: dict[str, float] | None = None

    @property
    def recovery_seconds(self) -> float | None:
        return None if self.recovered is None else self.recovered - self.started


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[ChaosEnvironment], Awaitable[None]]


def _spec(name: str) -> ProcessSpec:
    return next(s for s in process_specs(BASE_PORT) if s.name == name)


def process_fault(name: str, sig: int) -> Fault:
    async def inject(env: ChaosEnvironment) -> None:
        assert env.system is not None
        await asyncio.to_thread(env.system.stop, name, sig)
        env.system.start(_spec(name))

    label = "kill -9" if sig == signal.SIGKILL else "SIGTERM"
    return Fault(f"{name} {label}", inject)


def server_fault(name: str, down_seconds: float) -> Fault:
    async def inject(env: ChaosEnvironment) -> None:
        server = {"redis": env.redis, "rabbitmq": env.rabbit}.get(name)
        if name == "postgres":
            await asyncio.to_thread(env.postgres.stop, "fast")
            await asyncio.sleep(down_seconds)  # the outage itself, not a wait for work
            await asyncio.to_thread(env.postgres.start)
            return
        assert server is not None
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(down_seconds)
        await asyncio.to_thread(server.start)

    return Fault(f"{name} stop/start", inject)


def full_faults() -> list[Fault]:
    return [
        server_fault("redis", 2.0),
        server_fault("rabbitmq", 2.0),
        server_fault("postgres", 3.0),
        process_fault("gateway", signal.SIGTERM),
        process_fault("user-service", signal.SIGKILL),
        process_fault("post-service", signal.SIGTERM),
        process_fault("feed-service", signal.SIGKILL),
        process_fault("fanout-worker", signal.SIGKILL),
    ]


def quick_faults() -> list[Fault]:
    return [
        process_fault("fanout-worker", signal.SIGKILL),
        server_fault("redis", 1.0),
        server_fault("rabbitmq", 1.0),
    ]


async def run_fault(fault: Fault, env: ChaosEnvironment, now: Callable[[], float]) -> FaultWindow:
    window = FaultWindow(fault.name, now())
    try:
        await fault.inject(env)
        window.ready_after = await env.wait_all_ready(RECOVERY_TIMEOUT_SECONDS)
        window.recovered = now()
    except (TimeoutError, RuntimeError, OSError, subprocess.SubprocessError) as exc:
        window.error = f"{type(exc).__name__}: {exc}"
    return window
