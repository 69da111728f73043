"""Keeps feed-service's Redis copies right once the owning service has committed a change.

post-service calls it for likes and deletes, user-service for follows, unfollows, profile
changes and account deletions. It runs
after the commit and before the response (:func:`feedline_shared.db.after_commit`), so the
client's next feed read sees its own change. If Redis fails here the change stands: the fanout
worker repeats the same invalidation when the change's event arrives.

Every change tries, even right after a failure: skipping Redis for a while (as the read caches
do) would let a cache that survived a blip serve the old copy until the event arrives. The
attempt is bounded, so a hung Redis slows a write by at most ``timeout_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from feedline_shared import caches
from feedline_shared.db import after_commit
from feedline_shared.redis import AnyRedis

logger = logging.getLogger(__name__)


class CacheInvalidation:
    def __init__(self, redis: AnyRedis, *, timeout_seconds: float = 1.0) -> None:
        self.redis = redis
        self.timeout_seconds = timeout_seconds

    def like_changed(self, session: AsyncSession, post_id: int, user_id: int) -> None:
        async def invalidate() -> None:
            await self._guarded(caches.invalidate_like(self.redis, post_id, user_id))

        after_commit(session, invalidate)

    def post_deleted(self, session: AsyncSession, post_id: int) -> None:
        async def invalidate() -> None:
            await self._guarded(caches.invalidate_deletion(self.redis, post_id))

        after_commit(session, invalidate)

    def posts_deleted(self, session: AsyncSession, post_ids: Sequence[int]) -> None:
        async def invalidate() -> None:
            await self._guarded(caches.invalidate_deletions(self.redis, post_ids))

        after_commit(session, invalidate)

    def likes_removed(self, session: AsyncSession, user_id: int, post_ids: Sequence[int]) -> None:
        async def invalidate() -> None:
            await self._guarded(caches.invalidate_likes(self.redis, user_id, post_ids))

        after_commit(session, invalidate)

    def account_deleted(
        self, session: AsyncSession, user_id: int, follower_ids: Sequence[int]
    ) -> None:
        async def invalidate() -> None:
            await self._guarded(
                caches.invalidate_deleted_account(self.redis, user_id, follower_ids)
            )

        after_commit(session, invalidate)

    def follows_changed(self, session: AsyncSession, follower_id: int) -> None:
        async def invalidate() -> None:
            await self._guarded(caches.invalidate_following(self.redis, follower_id))

        after_commit(session, invalidate)

    def followee_grew_large(self, session: AsyncSession, follower_ids: Sequence[int]) -> None:
        """The followee just passed the celebrity threshold: its followers' follow sets, which
        still say it is small, are read again."""

        async def invalidate() -> None:
            await self._guarded(caches.invalidate_followings(self.redis, follower_ids))

        after_commit(session, invalidate)

    def profile_changed(self, session: AsyncSession, user_id: int) -> None:
        async def invalidate() -> None:
            await self._guarded(caches.invalidate_author(self.redis, user_id))

        after_commit(session, invalidate)

    async def _guarded(self, invalidation: Coroutine[Any, Any, None]) -> None:
        try:
            await asyncio.wait_for(invalidation, self.timeout_seconds)
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning(
                "cache invalidation failed; the worker repeats it from the event: %s", exc
            )
