"""The accounts a reader follows: Redis first (``feedline:following:{id}``), user-service on a miss.

user-service invalidates the cached set right after it commits a follow or unfollow (and the
fanout worker again from the event), and a fill is written only if no invalidation happened
since it was read (:mod:`feedline_shared.caches`), so follows and unfollows show in the very
next feed read. The follower counts in a cached set may be up to ``ttl_seconds`` old; they only
decide the celebrity split, and the follow that takes an account past the threshold has
user-service drop its followers' sets at once (only if Redis fails then does the split wait for
the TTL).
"""

from __future__ import annotations

import orjson
from redis.exceptions import RedisError

from feed_service.metrics import FOLLOW_SET_CACHE
from feedline_shared import caches
from feedline_shared.clients import Followee, UserServiceClient
from feedline_shared.redis import AnyRedis, RedisBreaker
from feedline_shared.timelines import VersionedHashRead


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

    def versioned_read(self, user_id: int) -> VersionedHashRead | None:
        """The cached set's read, made beside the timeline's first read (same hash tag, one
        call); None when Redis is being skipped after a failure. Its row is ``[v, set]``."""
        if not self.breaker.usable():
            return None
        return VersionedHashRead(
            caches.following_key(user_id),
            [caches.VERSION, caches.FOLLOW_SET],
            self.ttl_seconds,
            caches.version_seed(),
        )

    async def resolve(self, user_id: int, row: list[bytes | None] | None) -> list[Followee]:
        """The set from its cached ``[v, set]`` row, else from user-service (then cached).

        ``row`` is None when Redis was not read; nothing is written back then. Raises
        DependencyUnavailable when the set is not cached and user-service is down.
        """
        version = None
        if row is not None:
            raw_version, cached = row
            if cached is not None:
                try:
                    following = decode_follow_set(cached)
                except (TypeError, ValueError):
                    pass
                else:
                    FOLLOW_SET_CACHE.labels("hit").inc()
                    return following
            version = caches.version_of(raw_version)
        FOLLOW_SET_CACHE.labels("miss").inc()
        following = await self.users.following(user_id)
        if version is not None and self.breaker.usable():
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    values = {caches.FOLLOW_SET: encode_follow_set(following).decode()}
                    caches.queue_fill(
                        pipe, caches.following_key(user_id), version, values, self.ttl_seconds
                    )
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                self.breaker.failed(exc)
        return following
