"""The feed-service application: ``uvicorn feed_service.app:create_app --factory``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from feed_service.follow_sets import FollowSets
from feed_service.hydration import PostHydrator
from feed_service.plan import FeedPlanner
from feed_service.ranking import AffinityReader, RankWeights, SnapshotStore
from feed_service.rebuild import TimelineRebuilder
from feed_service.routes import feed as feed_routes
from feed_service.service import Feed
from feed_service.settings import Settings
from feedline_shared.app import create_service_app, set_readiness_checks
from feedline_shared.clients import PostServiceClient, UserServiceClient
from feedline_shared.health import service_check
from feedline_shared.http import create_internal_client
from feedline_shared.redis import create_redis
from feedline_shared.timelines import TimelineStore


def create_app(
    settings: Settings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    direct: bool = True,
) -> FastAPI:
    """``direct=False`` serves ``GET /feed`` through FastAPI's dependency solving rather than
    as a direct route (:mod:`feedline_shared.direct`): the reference the direct route is
    tested against."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = create_redis(settings)
        http = create_internal_client(
            settings.internal_token, settings.internal_timeout_seconds, transport=transport
        )
        try:
            users = UserServiceClient(http, settings.user_service_url)
            posts = PostServiceClient(http, settings.post_service_url)
            prefix = settings.redis_key_prefix
            store = TimelineStore(
                redis,
                cap=settings.timeline_cap,
                ttl_seconds=settings.timeline_ttl_seconds,
                prefix=prefix,
            )
            rebuilder = TimelineRebuilder(
                store,
                posts,
                lock_timeout_seconds=settings.rebuild_lock_timeout_seconds,
                poll_seconds=settings.rebuild_poll_seconds,
            )
            app.state.redis = redis
            app.state.http = http
            hydrator = PostHydrator(
                posts,
                redis,
                ttl_seconds=settings.post_cache_ttl_seconds,
                redis_retry_after_seconds=settings.redis_retry_after_seconds,
                local_author_seconds=settings.author_local_cache_seconds,
            )
            follow_sets = FollowSets(
                users,
                redis,
                ttl_seconds=settings.follow_set_cache_ttl_seconds,
                redis_retry_after_seconds=settings.redis_retry_after_seconds,
            )
            app.state.feed = Feed(
                planner=FeedPlanner(
                    follow_sets,
                    posts,
                    store,
                    rebuilder,
                    celebrity_threshold=settings.celebrity_follower_threshold,
                    page_posts=hydrator.page_read,
                ),
                hydrator=hydrator,
                affinity=AffinityReader(redis, prefix),
                snapshots=SnapshotStore(redis, prefix, settings.rank_snapshot_ttl_seconds),
                weights=RankWeights(
                    like=settings.rank_like_weight,
                    affinity=settings.rank_affinity_weight,
                    gravity=settings.rank_gravity,
                ),
                rank_window=settings.rank_window,
                overfetch=settings.feed_overfetch,
                max_rounds=settings.feed_max_rounds,
            )
            set_readiness_checks(
                app,
                {
                    "redis": redis.ping,
                    "user-service": service_check(http, settings.user_service_url),
                    "post-service": service_check(http, settings.post_service_url),
                },
            )
            try:
                yield
            finally:
                await follow_sets.aclose()
        finally:
            await http.aclose()
            await redis.aclose()

    return create_service_app(
        settings,
        title="Feedline feed-service",
        lifespan=lifespan,
        routers=[feed_routes.router],
        direct=direct,
    )
