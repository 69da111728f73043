"""Author summaries for Post objects: Redis first, user-service for the misses.

Summaries are cached under ``feedline:user:{<id>}`` (JSON UserSummary) for a bounded time; the
fanout worker deletes an entry on ``user.updated``. Redis is an optimisation only: when it fails,
lookups go straight to user-service and Redis is left alone for a short while.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from pydantic import ValidationError
from redis.exceptions import RedisError

from feedline_shared.caches import user_key
from feedline_shared.clients import UserServiceClient
from feedline_shared.problems import NotFound
from feedline_shared.redis import AnyRedis, RedisBreaker
from feedline_shared.schemas import USERNAME_PATTERN, UserSummary

logger = logging.getLogger(__name__)


_USERNAME = re.compile(USERNAME_PATTERN)


class AuthorDirectory:
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
        self.breaker = RedisBreaker("author cache", redis_retry_after_seconds)

    async def summaries(self, user_ids: Iterable[int]) -> dict[int, UserSummary]:
        """Summaries of the users that exist among ``user_ids``; unknown ids are left out."""
        wanted = list(dict.fromkeys(user_ids))
        if not wanted:
            return {}
        found = await self._cached(wanted)
        missing = [user_id for user_id in wanted if user_id not in found]
        if missing:
            fetched = await self.users.users_by_id(missing)
            found.update(fetched)
            await self._remember(fetched.values())
        return found

    async def summary(self, user_id: int) -> UserSummary | None:
        return (await self.summaries([user_id])).get(user_id)

    async def user_id_by_username(self, username: str) -> int:
        """The user's id; 404 problem when user-service does not know the name."""
        # A name outside the username alphabet cannot exist, and must not reach the URL path
        # of the user-service call.
        if not _USERNAME.fullmatch(username):
            raise NotFound("User not found")
        return await self.users.user_id_by_username(username)

    async def _cached(self, user_ids: list[int]) -> dict[int, UserSummary]:
        if not self.breaker.usable():
            return {}
        try:
            # One GET per key in one round trip: the keys live in different cluster slots, so
            # MGET would be refused on Redis Cluster.
            async with self.redis.pipeline(transaction=False) as pipe:
                for user_id in user_ids:
                    pipe.get(user_key(user_id))
                values = await pipe.execute()
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)
            return {}
        found: dict[int, UserSummary] = {}
        for user_id, raw in zip(user_ids, values, strict=True):
            if raw is None:
                continue
            try:
                found[user_id] = UserSummary.model_validate_json(raw)
            except ValidationError:
                logger.warning("ignoring malformed cached summary for user %s", user_id)
        return found

    async def _remember(self, summaries: Iterable[UserSummary]) -> None:
        entries = list(summaries)
        if not entries or not self.breaker.usable():
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for summary in entries:
                    pipe.set(user_key(summary.id), summary.model_dump_json(), ex=self.ttl_seconds)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)
