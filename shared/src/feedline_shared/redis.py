"""Redis clients: a single server or a Redis Cluster, chosen by settings, same interface."""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from feedline_shared.settings import ServiceSettings

logger = logging.getLogger(__name__)

AnyRedis = Redis | RedisCluster


def create_redis(settings: ServiceSettings) -> AnyRedis:
    timeout = settings.internal_timeout_seconds
    if settings.redis_cluster:
        return RedisCluster.from_url(
            settings.redis_url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        max_connections=256,
    )


class RedisBreaker:
    """For Redis used as an optimisation: after a failure, leave it alone for a short while so
    each request does not wait out a socket timeout while Redis is down."""

    def __init__(self, what: str, retry_after_seconds: float = 5.0) -> None:
        self.what = what
        self.retry_after_seconds = retry_after_seconds
        self._skip_until = 0.0

    def usable(self) -> bool:
        return time.monotonic() >= self._skip_until

    def failed(self, exc: BaseException) -> None:
        logger.warning(
            "%s unavailable, skipping redis for %ss: %s", self.what, self.retry_after_seconds, exc
        )
        self._skip_until = time.monotonic() + self.retry_after_seconds
