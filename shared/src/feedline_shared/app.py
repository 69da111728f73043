"""The FastAPI application every HTTP service starts from: middleware, problems, operations."""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI

from feedline_shared.direct import DirectRoutes, direct_routes
from feedline_shared.health import ReadinessCheck, operations_router
from feedline_shared.http import InternalAuth
from feedline_shared.logging import configure_logging
from feedline_shared.metrics import MetricsMiddleware
from feedline_shared.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from feedline_shared.problems import install_problem_handlers
from feedline_shared.settings import ServiceSettings

DEFAULT_MAX_BODY_BYTES = 64 * 1024

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    lifespan: Lifespan,
    routers: Sequence[APIRouter],
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    public_docs: bool = False,
    prefix: str = "",
    direct: bool = True,
) -> FastAPI:
    """``routers`` are included at ``prefix``. With ``direct``, those of their routes that
    :mod:`feedline_shared.direct` can serve skip FastAPI's per-request machinery (``False``
    serves everything through FastAPI: the reference the direct routes are tested against)."""
    configure_logging(settings.service_name, settings.log_level)
    if settings.gc_gen0_threshold:
        gc.set_threshold(settings.gc_gen0_threshold, *gc.get_threshold()[1:])
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        docs_url="/docs" if public_docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if public_docs else None,
    )
    app.state.service_name = settings.service_name
    app.state.settings = settings
    app.state.internal_auth = InternalAuth(settings.internal_token, require_user=False)
    app.state.readiness_checks = {}
    install_problem_handlers(app)
    app.include_router(operations_router())
    for router in routers:
        app.include_router(router, prefix=prefix)
    # Added last runs first: metrics see every request, request ids exist before anything logs.
    if direct:
        app.add_middleware(DirectRoutes, routes=direct_routes(routers, prefix), prefix=prefix)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(RequestIdMiddleware, access_log=settings.access_log)
    app.add_middleware(MetricsMiddleware, service=settings.service_name)
    return app


def set_readiness_checks(app: FastAPI, checks: dict[str, ReadinessCheck]) -> None:
    app.state.readiness_checks = checks
