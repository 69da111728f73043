"""Builds the message bus: each handler gets the dependencies its signature names."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from fanout_worker import handlers
from fanout_worker.affinity import AffinityStore
from fanout_worker.fanout import FanOut
from fanout_worker.messagebus import BoundHandler, MessageBus
from fanout_worker.publisher import Publisher
from fanout_worker.settings import Settings
from feedline_shared.clients import PostServiceClient, UserServiceClient
from feedline_shared.redis import AnyRedis
from feedline_shared.timelines import TimelineStore


def inject(handler: Callable[..., Any], dependencies: Mapping[str, object]) -> BoundHandler:
    """Binds the keyword-only parameters of ``handler`` by name; a missing one is an error."""
    wanted = [
        name
        for name, parameter in inspect.signature(handler).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    missing = [name for name in wanted if name not in dependencies]
    if missing:
        raise TypeError(f"{handler.__name__} needs unknown dependencies {missing}")
    return partial(handler, **{name: dependencies[name] for name in wanted})


def bootstrap(
    settings: Settings,
    *,
    redis: AnyRedis,
    users: UserServiceClient,
    posts: PostServiceClient,
    timelines: TimelineStore,
    publisher: Publisher,
) -> MessageBus:
    fanout = FanOut(
        users=users,
        timelines=timelines,
        redis=redis,
        publisher=publisher,
        celebrity_threshold=settings.celebrity_follower_threshold,
        chunk_size=settings.fanout_chunk_size,
        dedupe_ttl_seconds=settings.dedupe_ttl_seconds,
    )
    dependencies: dict[str, object] = {
        "fanout": fanout,
        "posts": posts,
        "timelines": timelines,
        "affinity": AffinityStore(redis, dedupe_ttl_seconds=settings.dedupe_ttl_seconds),
        "redis": redis,
    }
    return MessageBus(
        {
            message_type: inject(handler, dependencies)
            for message_type, handler in handlers.HANDLERS.items()
        }
    )
