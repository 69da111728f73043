"""``/healthz`` (the process lives), ``/readyz`` (its dependencies answer) and ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import orjson
from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response

from feedline_shared.metrics import DEPENDENCY_UP, metrics_endpoint

ReadinessCheck = Callable[[], Awaitable[object]]
CHECK_TIMEOUT_SECONDS = 2.0


async def run_checks(service: str, checks: dict[str, ReadinessCheck]) -> dict[str, str]:
    async def one(name: str, check: ReadinessCheck) -> tuple[str, str]:
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported by name
            DEPENDENCY_UP.labels(service, name).set(0)
            return name, f"down: {type(exc).__name__}"
        DEPENDENCY_UP.labels(service, name).set(1)
        return name, "ok"

    results = await asyncio.gather(*(one(name, check) for name, check in checks.items()))
    return dict(results)


def operations_router() -> APIRouter:
    """Routes every process serves; readiness checks come from ``app.state.readiness_checks``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz(request: Request) -> Response:
        body = {"status": "ok", "service": request.app.state.service_name}
        return Response(orjson.dumps(body), media_type="application/json")

    @router.get("/readyz")
    async def readyz(request: Request) -> Response:
        service = request.app.state.service_name
        checks: dict[str, ReadinessCheck] = getattr(request.app.state, "readiness_checks", {})
        results = await run_checks(service, checks)
        failing = sorted(name for name, state in results.items() if state != "ok")
        body: dict[str, object] = {
            "status": "ready" if not failing else "unavailable",
            "service": service,
            "checks": results,
        }
        if failing:
            body["failing"] = failing
        return Response(
            orjson.dumps(body), status_code=503 if failing else 200, media_type="application/json"
        )

    router.add_api_route("/metrics", metrics_endpoint, methods=["GET"])
    return router


def postgres_check(engine: AsyncEngine) -> ReadinessCheck:
    async def check() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return check


def service_check(http: httpx.AsyncClient, base_url: str) -> ReadinessCheck:
    """Another Feedline service answers its ``/healthz``."""

    async def check() -> None:
        response = await http.get(f"{base_url.rstrip('/')}/healthz")
        response.raise_for_status()

    return check
