"""What one feed request may show and where its ids come from, decided before paging.

1. The follow set comes from user-service, through its Redis copy (:mod:`follow_sets`):
   celebrities (accounts that ever had more than CELEBRITY_FOLLOWER_THRESHOLD followers: the
   worker skips fan-out for authors above it, and a count that later fell back cannot say which
   posts were skipped) and regular followees; the allowed authors are everyone followed plus
   the viewer. Only posts by allowed authors are ever shown.
2. The Redis timeline is read; a missing one (new user, lapsed, Redis flushed) is rebuilt first.
3. Regular followees the timeline has not merged were just followed: their posts are merged
   before serving. Merged followees no longer followed are unmerged (their entries are already
   filtered out by the allowed set).
4. Celebrities' posts are read from post-service and merged at read time.

Degraded modes: with Redis down the whole feed comes from post-service; with user-service down
and no cached follow set, a built timeline is served with its merged followees as the last known
follow set.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from redis.exceptions import RedisError

from feed_service.follow_sets import FollowSets
from feed_service.metrics import TIMELINE_READS
from feed_service.rebuild import TimelineRebuilder
from feed_service.sources import POSTS_BY_AUTHORS_MAX, AuthorsSource, IdSource, TimelineSource
from feedline_shared.caches import PagePostsRead
from feedline_shared.clients import Followee, PostServiceClient
from feedline_shared.problems import DependencyUnavailable
from feedline_shared.timelines import TimelinePage, TimelineStore

logger = logging.getLogger(__name__)

Source = Literal["hit", "rebuild", "degraded"]


@dataclass(frozen=True, slots=True)
class FeedPlan:
    user_id: int
    allowed_authors: frozenset[int]
    sources: list[IdSource]
    source: Source
    #: The cached rows of the timeline's first posts, read with it (single Redis), if any.
    prefetched: PagePostsRead | None = None


@dataclass(frozen=True, slots=True)
class FollowSet:
    regular: list[int]
    celebrities: list[int]

    @property
    def everyone(self) -> set[int]:
        return {*self.regular, *self.celebrities}


def split_following(following: list[Followee], threshold: int) -> FollowSet:
    regular = [f.id for f in following if f.peak_followers_count <= threshold]
    celebrities = [f.id for f in following if f.peak_followers_count > threshold]
    return FollowSet(regular, celebrities)


class FeedPlanner:
    def __init__(
        self,
        follow_sets: FollowSets,
        posts: PostServiceClient,
        store: TimelineStore,
        rebuilder: TimelineRebuilder,
        *,
        celebrity_threshold: int,
        page_posts: Callable[[int, int], PagePostsRead | None] | None = None,
    ) -> None:
        """``page_posts(user_id, count)`` says which cached post rows to read with the first
        timeline read (the hydrator's :meth:`PostHydrator.page_read`)."""
        self.follow_sets = follow_sets
        self.posts = posts
        self.store = store
        self.rebuilder = rebuilder
        self.celebrity_threshold = celebrity_threshold
        self.page_posts = page_posts

    async def plan(
        self, user_id: int, *, before: int | None, count: int, page_size: int
    ) -> FeedPlan:
        """``before``/``count`` are the page's first timeline read, done here and reused; the
        cached rows of its first ``page_size`` posts are read with it (the ones a page with
        nothing filtered out shows)."""
        follow_row, first_page, prefetched = await self._first_reads(
            user_id, before, count, page_size
        )
        try:
            following = await self.follow_sets.resolve(user_id, follow_row)
        except DependencyUnavailable:
            logger.warning("user-service unavailable; serving the last known follow set")
            return await self._plan_from_last_known_follows(user_id, before, count)
        follows = split_following(following, self.celebrity_threshold)
        allowed = frozenset({*follows.everyone, user_id})
        home_authors = [*follows.regular, user_id]
        database = AuthorsSource(self.posts, home_authors)
        celebrities = AuthorsSource(self.posts, follows.celebrities)
        try:
            if first_page is None:
                raise RedisError("the first timeline read failed")
            page, source = await self._timeline(user_id, follows, first_page, before, count)
        except (RedisError, OSError):
            logger.warning("redis unavailable; serving the feed from post-service")
            everyone = AuthorsSource(self.posts, [*follows.everyone, user_id])
            return FeedPlan(user_id, allowed, [everyone], "degraded")
        if not page.built:
            return FeedPlan(user_id, allowed, [database, celebrities], source)
        home = TimelineSource(
            self.store, user_id, database, first_read=(before, count, page.post_ids)
        )
        return FeedPlan(user_id, allowed, [home, celebrities], source, prefetched)

    async def _first_reads(
        self, user_id: int, before: int | None, count: int, page_size: int
    ) -> tuple[list[bytes | None] | None, TimelinePage | None, PagePostsRead | None]:
        """The cached follow set's row, the timeline's first page and the cached rows of its
        first posts, in one script call.

        None for what could not be read (Redis down, or the follow-set cache being skipped).
        """
        follow_set = self.follow_sets.versioned_read(user_id)
        posts = self.page_posts(user_id, page_size) if self.page_posts is not None else None
        try:
            page = await self.store.read(
                user_id, before=before, count=count, beside=follow_set, posts=posts
            )
        except (RedisError, OSError) as exc:
            self.follow_sets.breaker.failed(exc)
            return None, None, None
        return (follow_set.row if follow_set is not None else None), page, posts

    async def _timeline(
        self,
        user_id: int,
        follows: FollowSet,
        page: TimelinePage,
        before: int | None,
        count: int,
    ) -> tuple[TimelinePage, Source]:
        source: Source = "hit"
        TIMELINE_READS.labels("hit" if page.built else "miss").inc()
        if not page.built:
            await self.rebuilder.ensure_built(user_id, follows.regular)
            source = "rebuild"
            page = await self.store.read(user_id, before=before, count=count)
            if not page.built:
                # Rebuilt, then dropped before we read it (flush, expiry): serve from the sources.
                return page, source
        if await self._reconcile_follows(user_id, page, follows):
            page = await self.store.read(user_id, before=before, count=count)
        return page, source

    async def _reconcile_follows(
        self, user_id: int, page: TimelinePage, follows: FollowSet
    ) -> bool:
        """Merges just-followed accounts and unmerges unfollowed ones; True if entries changed."""
        followed = follows.everyone
        missing = [f for f in follows.regular if f not in page.merged_followees]
        gone = [f for f in page.merged_followees if f not in followed]
        if gone:
            await asyncio.gather(*(self.store.unmerge(user_id, f, []) for f in gone))
        if not missing:
            return False
        limit = min(self.store.cap, POSTS_BY_AUTHORS_MAX)
        refs = await self.posts.posts_by_authors(missing, limit=limit)
        by_author: dict[int, list[int]] = defaultdict(list)
        for ref in refs:
            by_author[ref.author_id].append(ref.id)
        await asyncio.gather(*(self.store.merge(user_id, f, by_author[f]) for f in missing))
        return True

    async def _plan_from_last_known_follows(
        self, user_id: int, before: int | None, count: int
    ) -> FeedPlan:
        try:
            page = await self.store.read(user_id, before=before, count=count)
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable(
                "The feed is unavailable: user-service and redis are both down"
            ) from exc
        if not page.built:
            raise DependencyUnavailable("user-service is unavailable and no timeline is cached")
        allowed = frozenset({*page.merged_followees, user_id})
        database = AuthorsSource(self.posts, [*page.merged_followees, user_id])
        home = TimelineSource(
            self.store, user_id, database, first_read=(before, count, page.post_ids)
        )
        return FeedPlan(user_id, allowed, [home], "degraded")
