"""The post-service application: ``uvicorn post_service.app:create_app --factory``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI

from feedline_shared.app import create_service_app, set_readiness_checks
from feedline_shared.broker import BrokerProbe
from feedline_shared.cache_invalidation import CacheInvalidation
from feedline_shared.clients import UserServiceClient
from feedline_shared.db import Database
from feedline_shared.health import postgres_check
from feedline_shared.http import create_internal_client
from feedline_shared.ids import IdGenerator
from feedline_shared.outbox import OutboxRelay
from feedline_shared.redis import create_redis
from post_service.authors import AuthorDirectory
from post_service.janitor import IdempotencyKeyJanitor
from post_service.models import SCHEMA, outbox
from post_service.routes import internal, public
from post_service.settings import Settings

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    direct: bool = True,
) -> FastAPI:
    """``transport`` replaces the network to user-service (tests stand in for it);
    ``direct=False`` serves every route through FastAPI, the reference the direct routes
    (:mod:`feedline_shared.direct`) are tested against."""
    settings = settings or Settings()
    if settings.db_schema != SCHEMA:
        raise ValueError(f"DB_SCHEMA must be {SCHEMA!r}: the tables are declared in it")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings)
        redis = create_redis(settings)
        http = create_internal_client(
            settings.internal_token, settings.internal_timeout_seconds, transport=transport
        )
        broker = BrokerProbe(settings.amqp_url)
        relay = OutboxRelay.for_service(
            settings,
            database.engine,
            outbox,
            batch_size=settings.outbox_batch_size,
            poll_interval_seconds=settings.outbox_poll_interval_seconds,
        )
        app.state.database = database
        app.state.redis = redis
        app.state.http = http
        app.state.ids = IdGenerator(settings.node_id)
        app.state.authors = AuthorDirectory(
            UserServiceClient(http, settings.user_service_url),
            redis,
            ttl_seconds=settings.user_cache_ttl_seconds,
            redis_retry_after_seconds=settings.redis_retry_after_seconds,
        )
        app.state.cache_invalidation = CacheInvalidation(redis)
        app.state.relay = relay
        janitor = IdempotencyKeyJanitor(
            database.engine,
            max_age=timedelta(hours=settings.idempotency_key_ttl_hours),
            interval=timedelta(seconds=settings.idempotency_purge_interval_seconds),
        )
        set_readiness_checks(
            app,
            {
                "postgres": postgres_check(database.engine),
                "redis": redis.ping,
                "rabbitmq": broker.check,
            },
        )
        if settings.outbox_relay_enabled:
            relay.start()
        janitor.start()
        try:
            yield
        finally:
            await janitor.stop()
            if settings.outbox_relay_enabled:
                await relay.stop()
            await broker.close()
            await http.aclose()
            await redis.aclose()
            await database.dispose()

    app = create_service_app(
        settings,
        title="Feedline post-service",
        lifespan=lifespan,
        routers=[public.router, internal.router],
        max_body_bytes=settings.max_body_bytes,
        direct=direct,
    )
    return app
