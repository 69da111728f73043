"""One chaos run: start the world, load it, break it piece by piece, verify, report."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from dataclasses import dataclass

from chaos import report
from chaos.environment import LOG_DIR, ChaosEnvironment
from chaos.faults import Fault, FaultWindow, full_faults, quick_faults, run_fault
from chaos.load import Ledger, run_load
from chaos.verify import Check, verify


@dataclass(frozen=True)
class Plan:
    faults: list[Fault]
    duration: float
    warmup: float
    settle: float
    workers: int
    accounts_per_worker: int
    max_requests_per_worker: int
    drain_within: float
    celebrity_threshold: int
    stem: str

    @classmethod
    def make(cls, *, quick: bool, duration: float | None) -> Plan:
        if quick:
            return cls(quick_faults(), duration or 10, 2, 1, 3, 4, 3000, 45, 6, "quick")
        return cls(full_faults(), duration or 90, 6, 4, 4, 7, 50_000, 90, 8, "latest")


async def exercise(
    env: ChaosEnvironment, plan: Plan
) -> tuple[list[Check], list[FaultWindow], dict]:
    assert env.system is not None
    ledger = Ledger()
    stop = asyncio.Event()
    load = asyncio.create_task(
        run_load(
            env.system.gateway_url,
            ledger,
            stop,
            workers=plan.workers,
            accounts_per_worker=plan.accounts_per_worker,
            max_requests_per_worker=plan.max_requests_per_worker,
            seed=20261124,
        )
    )
    windows: list[FaultWindow] = []
    try:
        # The load builds accounts and follows before anything breaks.
        await asyncio.sleep(plan.warmup)
        for fault in plan.faults:
            print(f"[chaos] {ledger.now():6.1f}s  fault: {fault.name}", flush=True)
            window = await run_fault(fault, env, ledger.now)
            windows.append(window)
            note = (
                f"recovered in {window.recovery_seconds:.1f} s"
                if window.error is None
                else window.error
            )
            print(f"[chaos] {ledger.now():6.1f}s  {note}", flush=True)
            await asyncio.sleep(plan.settle)  # load under normal conditions between faults
        remaining = plan.duration - ledger.now()
        if remaining > 0:
            await asyncio.sleep(remaining)
    finally:
        stop.set()
        await load
    duration = ledger.now()
    print(
        f"[chaos] {duration:6.1f}s  load stopped after {len(ledger.outcomes)} requests; verifying"
    )
    checks, figures = await verify(
        ledger,
        windows,
        gateway_url=env.system.gateway_url,
        admin_dsn=env.admin_dsn,
        amqp_url=env.amqp_url,
        queue_depths=env.rabbit.queue_depths,
        worker_log=LOG_DIR / "fanout-worker.log",
        drain_within=plan.drain_within,
    )
    figures.update(
        duration_seconds=round(duration, 1),
        requests=len(ledger.outcomes),
        faults_injected=len(windows),
        accounts=len(ledger.accounts),
        posts_acknowledged=len(ledger.posts),
        deletes_acknowledged=len(ledger.deleted),
        follow_pairs=len(ledger.follows),
        recovery_seconds={
            w.name: None if w.recovery_seconds is None else round(w.recovery_seconds, 1)
            for w in windows
        },
    )
    return checks, windows, figures


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(*, quick: bool, duration: float | None) -> int:
    """Runs the whole scenario; returns 0 when every check passed."""
    plan = Plan.make(quick=quick, duration=duration)
    signal.signal(signal.SIGTERM, _interrupted)
    started = time.monotonic()
    env = ChaosEnvironment(celebrity_threshold=plan.celebrity_threshold)
    try:
        print("[chaos] starting PostgreSQL, Redis, RabbitMQ and the five processes", flush=True)
        env.start()
        print(f"[chaos] system ready in {time.monotonic() - started:.1f} s", flush=True)
        checks, windows, figures = asyncio.run(exercise(env, plan))
    finally:
        print("[chaos] stopping everything this run started", flush=True)
        env.stop()
    kind = "quick" if quick else "full"
    title = f"Feedline chaos run ({kind}, {figures['duration_seconds']} s of load)"
    text = report.write(checks, windows, figures, title, stem=plan.stem)
    print(text)
    print(f"[chaos] total {time.monotonic() - started:.0f} s; results in {report.RESULTS}")
    failed = [c.name for c in checks if not c.ok]
    if failed:
        print(f"[chaos] FAILED: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0
