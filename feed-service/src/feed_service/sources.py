"""Newest-first streams of post ids that the feed merges: a home timeline and author queries.

Every source answers ``fetch(before, count)``: up to ``count`` ids strictly older than ``before``,
newest first, and whether nothing older remains. The merge in ``chronological`` only needs that.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from redis.exceptions import RedisError

from feedline_shared.clients import PostServiceClient
from feedline_shared.timelines import TimelineStore

logger = logging.getLogger(__name__)

#: post-service's ``/internal/posts/by-authors`` answers at most this many ids per call.
POSTS_BY_AUTHORS_MAX = 1000


@dataclass(frozen=True, slots=True)
class Batch:
    ids: list[int]
    exhausted: bool


class IdSource(Protocol):
    async def fetch(self, before: int | None, count: int) -> Batch: ...


class AuthorsSource:
    """Posts of a fixed set of authors, straight from post-service."""

    def __init__(self, posts: PostServiceClient, author_ids: Sequence[int]) -> None:
        self.posts = posts
        self.author_ids = list(author_ids)

    async def fetch(self, before: int | None, count: int) -> Batch:
        if not self.author_ids:
            return Batch([], exhausted=True)
        count = min(count, POSTS_BY_AUTHORS_MAX)
        refs = await self.posts.posts_by_authors(self.author_ids, before=before, limit=count)
        return Batch([ref.id for ref in refs], exhausted=len(refs) < count)


class TimelineSource:
    """The Redis home timeline, continued from the databases once it runs out.

    The timeline holds only the newest ``TIMELINE_CAP`` entries, so when a read comes back short
    the rest of the history is read from post-service below the last timeline id: paging never
    dead-ends at the cap. If Redis fails mid-request the whole stream moves to post-service.
    """

    def __init__(
        self,
        store: TimelineStore,
        user_id: int,
        database: AuthorsSource,
        *,
        first_read: tuple[int | None, int, list[int]] | None = None,
    ) -> None:
        self.store = store
        self.user_id = user_id
        self.database = database
        # The read made while preparing the request, reused instead of asking Redis twice.
        self._first_read = first_read
        self._redis_failed = False

    async def fetch(self, before: int | None, count: int) -> Batch:
        if self._redis_failed:
            return await self.database.fetch(before, count)
        ids = self._take_first_read(before, count)
        if ids is None:
            try:
                page = await self.store.read(self.user_id, before=before, count=count)
            except (RedisError, OSError):
                logger.warning("redis failed while paging a timeline; continuing from post-service")
                self._redis_failed = True
                return await self.database.fetch(before, count)
            ids = page.post_ids
        if len(ids) >= count:
            return Batch(ids, exhausted=False)
        below = ids[-1] if ids else before
        rest = await self.database.fetch(below, count - len(ids))
        return Batch(ids + rest.ids, exhausted=rest.exhausted)

    def _take_first_read(self, before: int | None, count: int) -> list[int] | None:
        first, self._first_read = self._first_read, None
        if first is not None and first[0] == before and first[1] == count:
            return first[2]
        return None
