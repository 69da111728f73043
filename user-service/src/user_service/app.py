"""The user-service application: `uvicorn user_service.app:create_app --factory`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from feedline_shared.app import create_service_app, set_readiness_checks
from feedline_shared.broker import BrokerProbe
from feedline_shared.cache_invalidation import CacheInvalidation
from feedline_shared.clients import PostServiceClient
from feedline_shared.db import Database
from feedline_shared.health import postgres_check
from feedline_shared.http import create_internal_client
from feedline_shared.ids import IdGenerator
from feedline_shared.outbox import OutboxRelay
from feedline_shared.redis import create_redis
from user_service.models import outbox
from user_service.passwords import Passwords
from user_service.posts import PostCounts
from user_service.routes import api_keys, auth, internal, users
from user_service.settings import Settings


def create_app(
    settings: Settings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    direct: bool = True,
) -> FastAPI:
    """``transport`` replaces the network to other Feedline services (tests stand them in);
    ``direct=False`` serves every route through FastAPI, the reference the direct routes
    (:mod:`feedline_shared.direct`) are tested against."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings)
        # Only to invalidate feed-service's cached follow sets: not a readiness dependency.
        redis = create_redis(settings)
        http = create_internal_client(
            settings.internal_token, settings.internal_timeout_seconds, transport=transport
        )
        broker = BrokerProbe(settings.amqp_url)
        relay = OutboxRelay.for_service(
            settings,
            database.engine,
            outbox,
            poll_interval_seconds=settings.outbox_poll_interval_seconds,
        )
        app.state.database = database
        app.state.session_scope = asynccontextmanager(database.session)
        app.state.ids = IdGenerator(settings.node_id)
        app.state.cache_invalidation = CacheInvalidation(redis)
        # Building the hasher makes its dummy hash: argon2 work, kept off the event loop.
        app.state.passwords = await asyncio.to_thread(Passwords, settings)
        app.state.post_counts = PostCounts(
            PostServiceClient(http, settings.post_service_url),
            settings.post_counts_timeout_seconds,
        )
        app.state.relay = relay
        set_readiness_checks(
            app, {"postgres": postgres_check(database.engine), "rabbitmq": broker.check}
        )
        relay.start()
        try:
            yield
        finally:
            await relay.stop()
            await broker.close()
            await http.aclose()
            await redis.aclose()
            await database.dispose()

    return create_service_app(
        settings,
        title="Feedline user-service",
        lifespan=lifespan,
        routers=[users.router, auth.router, api_keys.router, internal.router],
        direct=direct,
    )
