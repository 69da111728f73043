"""Redis clients: a single server or a Redis Cluster, chosen by settings, same interface."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from feedline_shared.settings import ServiceSettings

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
