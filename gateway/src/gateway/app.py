"""The gateway application: ``uvicorn gateway.app:create_app --factory``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from feedline_shared.app import create_service_app, set_readiness_checks
from feedline_shared.health import ReadinessCheck
from feedline_shared.http import create_internal_client
from feedline_shared.redis import create_redis
from gateway.auth import Authenticator
from gateway.openapi import install_openapi
from gateway.proxy import Proxy
from gateway.ratelimit import FixedWindowLimiter
from gateway.routes import auth, feed, posts, users
from gateway.routing import API_PREFIX, Upstream
from gateway.settings import Settings
from gateway.tokens import TokenIssuer

#: The public routes, in matching order.
PUBLIC_ROUTERS = (auth.router, users.router, posts.router, feed.router)


def create_app(
    settings: Settings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    direct: bool = True,
) -> FastAPI:
    """``transport`` stands in for the services in tests; the network is used otherwise.

    ``direct=False`` serves every route through FastAPI: the reference the direct routes
    (:mod:`feedline_shared.direct`) are tested against.
    """
    settings = settings or Settings()
    tokens = TokenIssuer(
        settings.jwt_secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.jwt_ttl_seconds,
        leeway_seconds=settings.jwt_leeway_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        http = create_internal_client(
            settings.internal_token,
            settings.internal_timeout_seconds,
            max_connections=settings.upstream_max_connections,
            transport=transport,
        )
        redis = create_redis(settings)
        proxy = Proxy(
            http,
            {
                Upstream.USERS: settings.user_service_url,
                Upstream.POSTS: settings.post_service_url,
                Upstream.FEED: settings.feed_service_url,
            },
        )
        app.state.http = http
        app.state.redis = redis
        app.state.proxy = proxy
        app.state.tokens = tokens
        app.state.authenticator = Authenticator(
            tokens,
            proxy,
            FixedWindowLimiter(
                redis,
                name="principal",
                limit=settings.rate_limit_per_principal,
                window_seconds=settings.rate_limit_window_seconds,
            ),
        )
        app.state.address_limiter = FixedWindowLimiter(
            redis,
            name="address",
            limit=settings.rate_limit_per_address,
            window_seconds=settings.rate_limit_window_seconds,
        )

        async def redis_ping() -> None:
            await redis.ping()

        def service_check(service: Upstream) -> ReadinessCheck:
            async def check() -> None:
                await proxy.healthz(service)

            return check

        set_readiness_checks(
            app,
            {"redis": redis_ping} | {str(s): service_check(s) for s in Upstream},
        )
        try:
            yield
        finally:
            await http.aclose()
            await redis.aclose()

    app = create_service_app(
        settings,
        title="Feedline API",
        lifespan=lifespan,
        routers=PUBLIC_ROUTERS,
        prefix=API_PREFIX,
        max_body_bytes=settings.max_body_bytes,
        public_docs=True,
        direct=direct,
    )
    install_openapi(app)
    return app
