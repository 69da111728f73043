"""The accounts a reader follows: Redis first (``feedline:following:{id}``), user-service on a miss.

user-service invalidates the cached set right after it commits a follow or unfollow (and the
fanout worker again from the event), and a fill is written only if no invalidation happened
since it was read (:mod:`feedline_shared.caches`), so follows and unfollows show in the very
next feed read. The follower counts in a cached set may be up to ``ttl_seconds`` old; they only
decide the celebrity split, and the follow that takes an account past the threshold has
user-service drop its followers' sets at once and the worker again from the event (only if both
fail does the split wait for the TTL). Each active reader reloads its set once per TTL, so the
TTL is what follow sets cost user-service: at 60 s, a thousand readers whose sets lapsed
together took a paced feed run's p99 from 8 to 69 ms on the bench's two cores.

A read that finds its set near the end of its TTL still uses it, and refreshes it from
user-service in the background (one refresh per reader at a time in a process), under the same
version check as a fill. So a reader who reads at least that often never waits for user-service
(only first reads and reads after a follow change do), while user-service answers about as many
follow-set requests as without refreshes: one per active reader per ~0.8 TTL rather than per TTL.
How near the end is the reader's own, between 0.75 and 0.9 of the TTL by user id: sets filled
together (a Redis restart, a deploy, the bench's warm-up) are refreshed over a sixth of the TTL
instead of in one wave.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
from redis.exceptions import RedisError

from feed_service.metrics import FOLLOW_SET_CACHE, FOLLOW_SET_REFRESHES
from feedline_shared import caches
from feedline_shared.clients import Followee, UserServiceClient
from feedline_shared.problems import DependencyUnavailable, NotFound
from feedline_shared.redis import AnyRedis, RedisBreaker
from feedline_shared.timelines import VersionedHashRead

logger = logging.getLogger(__name__)

#: When the cached set was filled (Unix seconds), beside it in the hash.
FILLED_AT = "at"
#: The shares of its TTL between which a reader's cached set starts being refreshed on read.
EARLIEST_REFRESH_AGE = 0.75
LATEST_REFRESH_AGE = 0.9
#: After a refresh found user-service unavailable, no refresh is started for this long: the
#: cached sets still serve, and a struggling user-service is not asked again on every read.
REFRESH_PAUSE_SECONDS = 5.0


def refresh_after_seconds(ttl_seconds: float, user_id: int) -> float:
    """The age from which ``user_id``'s cached set is refreshed when read: spread evenly over
    readers (Fibonacci hashing of the id) between EARLIEST_REFRESH_AGE and LATEST_REFRESH_AGE."""
    spread = ((user_id * 0x9E3779B97F4A7C15) & 0xFFFF_FFFF_FFFF_FFFF) / 2**64
    window = LATEST_REFRESH_AGE - EARLIEST_REFRESH_AGE
    return ttl_seconds * (EARLIEST_REFRESH_AGE + window * spread)


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
        self._refreshing: dict[int, asyncio.Task[None]] = {}
        self._refresh_paused_until = 0.0

    def versioned_read(self, user_id: int) -> VersionedHashRead | None:
        """The cached set's read, made beside the timeline's first read (same hash tag, one
        call); None when Redis is being skipped after a failure. Its row is ``[v, set, at]``."""
        if not self.breaker.usable():
            return None
        return VersionedHashRead(
            caches.following_key(user_id),
            [caches.VERSION, caches.FOLLOW_SET, FILLED_AT],
            self.ttl_seconds,
            caches.version_seed(),
        )

    async def resolve(self, user_id: int, row: list[bytes | None] | None) -> list[Followee]:
        """The set from its cached ``[v, set, at]`` row, else from user-service (then cached).

        ``row`` is None when Redis was not read; nothing is written back then. Raises
        DependencyUnavailable when the set is not cached and user-service is down.
        """
        version = None
        if row is not None:
            raw_version, cached, filled_at = row
            version = caches.version_of(raw_version)
            if cached is not None:
                try:
                    following = decode_follow_set(cached)
                except (TypeError, ValueError):
                    pass
                else:
                    FOLLOW_SET_CACHE.labels("hit").inc()
                    if version is not None and self._due(user_id, filled_at):
                        self._refresh_soon(user_id, version)
                    return following
        FOLLOW_SET_CACHE.labels("miss").inc()
        return await self._fill(user_id, version)

    def _due(self, user_id: int, filled_at: bytes | None) -> bool:
        try:
            age = time.time() - float(filled_at) if filled_at is not None else None
        except ValueError:
            age = None
        return age is None or age >= refresh_after_seconds(self.ttl_seconds, user_id)

    def _refresh_soon(self, user_id: int, version: str) -> None:
        if user_id in self._refreshing or time.monotonic() < self._refresh_paused_until:
            return
        task = asyncio.create_task(self._refresh(user_id, version))
        self._refreshing[user_id] = task
        task.add_done_callback(lambda _: self._refreshing.pop(user_id, None))

    async def _refresh(self, user_id: int, version: str) -> None:
        try:
            await self._fill(user_id, version)
        except (DependencyUnavailable, NotFound) as exc:
            # The cached set stays until its TTL (or an invalidation); a later read tries again.
            FOLLOW_SET_REFRESHES.labels("skipped").inc()
            logger.info("follow set refresh skipped", extra={"user_id": user_id})
            if isinstance(exc, DependencyUnavailable):
                self._refresh_paused_until = time.monotonic() + REFRESH_PAUSE_SECONDS
        else:
            FOLLOW_SET_REFRESHES.labels("ok").inc()

    async def _fill(self, user_id: int, version: str | None) -> list[Followee]:
        """The set from user-service, written back if the hash is still at ``version``."""
        following = await self.users.following(user_id)
        if version is not None and self.breaker.usable():
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    values = {
                        caches.FOLLOW_SET: encode_follow_set(following).decode(),
                        FILLED_AT: str(round(time.time(), 3)),
                    }
                    caches.queue_fill(
                        pipe, caches.following_key(user_id), version, values, self.ttl_seconds
                    )
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                self.breaker.failed(exc)
        return following

    async def aclose(self) -> None:
        """Cancels refreshes still running (the process is stopping)."""
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
