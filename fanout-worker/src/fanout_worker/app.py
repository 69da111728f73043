"""The worker process: consumers plus a small HTTP server for /healthz, /readyz and /metrics.

``create_app`` builds the FastAPI app whose lifespan owns every resource (Redis, the pooled
internal HTTP client, the RabbitMQ worker), so ``uvicorn fanout_worker.app:create_app --factory``
and ``python -m fanout_worker`` run the same thing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from fanout_worker.bootstrap import bootstrap
from fanout_worker.fanout import set_timeline_mark
from fanout_worker.messagebus import MessageBus
from fanout_worker.publisher import Publisher
from fanout_worker.settings import Settings
from fanout_worker.worker import Worker
from feedline_shared.app import create_service_app, set_readiness_checks
from feedline_shared.clients import PostServiceClient, UserServiceClient
from feedline_shared.health import service_check
from feedline_shared.http import create_internal_client
from feedline_shared.redis import create_redis
from feedline_shared.timelines import TimelineStore


def create_app(
    settings: Settings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = create_redis(settings)
        http = create_internal_client(
            settings.internal_token, settings.internal_timeout_seconds, transport=transport
        )
        users = UserServiceClient(http, settings.user_service_url)
        posts = PostServiceClient(http, settings.post_service_url)
        timelines = TimelineStore(
            redis, cap=settings.timeline_cap, ttl_seconds=settings.timeline_ttl_seconds
        )

        def build_bus(publisher: Publisher) -> MessageBus:
            return bootstrap(
                settings,
                redis=redis,
                users=users,
                posts=posts,
                timelines=timelines,
                publisher=publisher,
            )

        worker = Worker(settings, build_bus)
        app.state.redis, app.state.http, app.state.worker = redis, http, worker
        app.state.timelines = timelines
        set_readiness_checks(
            app,
            {
                "redis": redis.ping,
                "rabbitmq": worker.check_ready,
                "user-service": service_check(http, settings.user_service_url),
            },
        )
        worker.start()
        # A start on a new or flushed Redis sets the timelines' high-water mark at once, so the
        # first posts are written without head reads too (a fan-out that finds none sets it).
        marking = asyncio.create_task(set_timeline_mark(timelines))
        try:
            yield
        finally:
            marking.cancel()
            await worker.stop()
            await http.aclose()
            await redis.aclose()

    return create_service_app(
        settings, title="Feedline fanout worker", lifespan=lifespan, routers=[]
    )
