"""The accounts a reader follows: Redis first (``feedline:following:{id}``), user-service on a miss.

user-service invalidates the cached set right after it commits a follow or unfollow (and the
fanout worker again from the event), and a fill is written only if no invalidation happened
since it was read (:mod:`feedline_shared.caches`), so follows and unfollows show in the very
next feed read. The follower counts in a cached set may be up to ``ttl_seconds`` old: an account
that just crossed the celebrity threshold can take that long to be merged at read time.
"""

from __future__ import annotations

import orjson
from redis.exceptions import RedisError

from feed_service.metrics import FOLLOW_SET_CACHE
from feedline_shared import caches
from feedline_shared.clients import Followee, UserServiceClient
from feedline_shared.redis import AnyRedis, RedisBreaker


def encode_follow_set(following: list[Followee]) -> bytes:
    return orjson.dumps([[f.id, f.followers_count, f.peak_followers_count] for f in following])


def decode_follow_set(raw: bytes) -> list[Followee]:
    return [Followee(int(i), int(count), int(peak)) for i, count, peak in orjson.loads(raw)]


class FollowSets:
    def __init__(
        self,
        users: UserServiceClient,
        redis: AnyRedis,
        *,
        ttl_seconds: int,
        redis_retry_after_seconds: float = 5.0,
    ) -> None:
        self.users = users
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self.breaker = RedisBreaker("follow-set cache", redis_retry_after_seconds)

    async def following(self, user_id: int) -> list[Followee]:
        """Raises DependencyUnavailable when the set is not cached and user-service is down."""
        key = caches.following_key(user_id)
        cached, version = await self._read(key)
        if cached is not None:
            FOLLOW_SET_CACHE.labels("hit").inc()
            return cached
        FOLLOW_SET_CACHE.labels("miss").inc()
        following = await self.users.following(user_id)
        if version is not None and self.breaker.usable():
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    values = {caches.FOLLOW_SET: encode_follow_set(following).decode()}
                    caches.queue_fill(pipe, key, version, values, self.ttl_seconds)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                self.breaker.failed(exc)
        return following

    async def _read(self, key: str) -> tuple[list[Followee] | None, str | None]:
        """The cached set if any, and the version a fill must match (None: Redis not read)."""
        if not self.breaker.usable():
            return None, None
        try:
            version, cached = await self.redis.hmget(key, [caches.VERSION, caches.FOLLOW_SET])
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)
            return None, None
        if cached is not None:
            try:
                return decode_follow_set(cached), None
            except (TypeError, ValueError):
                pass
        return None, caches.version_of(version)
