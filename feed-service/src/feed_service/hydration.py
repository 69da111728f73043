"""Post ids to Post objects: Redis first, one post-service batch for the rest.

A cache hit needs the post's body and like count (``feedline:post:{id}``), the viewer's like
state (``feedline:liked:{viewer}``) and the author's summary (``feedline:user:{id}``, also kept
a few seconds in process memory). On a single Redis the first page's rows are read in the
timeline's own script call (:meth:`PostHydrator.page_read`), so a cache-hit page is one Redis
command, plus an MGET for authors not held in memory; otherwise one more script call reads them
(one pipeline on Redis Cluster). Anything
missing goes to post-service's batch route in one call, and what it answers is written back
with the versioned fills of :mod:`feedline_shared.caches`, so a like or delete committed
meanwhile is never overwritten by the older copy.

Redis is an optimisation here: when it fails, every id goes to post-service.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.exceptions import RedisError

from feed_service.metrics import HYDRATED_ITEMS, HYDRATION_HITS, HYDRATION_MISSES
from feedline_shared import caches
from feedline_shared.clients import PostServiceClient
from feedline_shared.redis import AnyRedis, RedisBreaker
from feedline_shared.schemas import Post, UserSummary


@dataclass(slots=True)
class _Lookup:
    """What one Redis read found, and the versions a fill of the rest must match."""

    found: dict[int, Post] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)
    # None when Redis was not read: then nothing is written back either.
    post_versions: dict[int, str | None] | None = None
    liked_version: str | None = None


def encode_body(post: Post) -> bytes:
    """The post's fields that never change, as cached under ``body``."""
    return orjson.dumps(
        {
            "author_id": post.author.id,
            "caption": post.caption,
            "media_url": post.media_url,
            "created_at": post.created_at.isoformat(),
        }
    )


def _post(
    post_id: int, fields: dict[str, Any], author: UserSummary, likes: int, liked: bool
) -> Post:
    # Validation runs in pydantic-core (no Python validators on Post): cheaper than
    # model_construct plus parsing the time here, and a malformed entry raises (a miss).
    return Post.model_validate(
        {
            "id": post_id,
            "author": author,
            "caption": fields["caption"],
            "media_url": fields["media_url"],
            "created_at": fields["created_at"],
            "like_count": likes,
            "liked_by_me": liked,
        }
    )


def _summary(raw: bytes) -> UserSummary:
    data = orjson.loads(raw)
    # Written by post-service from a validated UserSummary: rebuilt without validating again.
    return UserSummary.model_construct(
        id=int(data["id"]), username=data["username"], display_name=data["display_name"]
    )


class RecentSummaries:
    """Author summaries read from Redis in the last ``seconds``, kept in process memory.

    Most pages repeat the same authors, so this spares most reads their second Redis round
    trip. A renamed author shows up to ``seconds`` later than through Redis alone.
    """

    MAX_ENTRIES = 50_000

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[int, tuple[float, UserSummary]] = {}

    def get(self, author_ids: Iterable[int]) -> tuple[dict[int, UserSummary], list[int]]:
        """The fresh summaries held, and the ids to read from Redis."""
        now = time.monotonic()
        found: dict[int, UserSummary] = {}
        missing: list[int] = []
        for author_id in author_ids:
            entry = self._entries.get(author_id)
            if entry is not None and entry[0] > now:
                found[author_id] = entry[1]
            else:
                missing.append(author_id)
        return found, missing

    def put(self, summaries: dict[int, UserSummary]) -> None:
        if self.seconds <= 0:
            return
        if len(self._entries) + len(summaries) > self.MAX_ENTRIES:
            self._entries.clear()
        expires = time.monotonic() + self.seconds
        for author_id, summary in summaries.items():
            self._entries[author_id] = (expires, summary)


class PostHydrator:
    def __init__(
        self,
        posts: PostServiceClient,
        redis: AnyRedis,
        *,
        ttl_seconds: int,
        redis_retry_after_seconds: float = 5.0,
        local_author_seconds: float = 0.0,
    ) -> None:
        self.posts = posts
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self.reader = caches.CacheReader(redis, ttl_seconds=ttl_seconds)
        self.recent_authors = RecentSummaries(local_author_seconds)
        self.breaker = RedisBreaker("post cache", redis_retry_after_seconds)

    def page_read(self, viewer_id: int, count: int) -> caches.PagePostsRead | None:
        """The cached rows to read with a timeline's first page (its first ``count`` posts),
        or None while Redis is being skipped."""
        if not self.breaker.usable():
            return None
        return caches.PagePostsRead(viewer_id, count, self.ttl_seconds, caches.version_seed())

    async def visible(
        self,
        post_ids: Sequence[int],
        *,
        viewer_id: int,
        allowed_authors: Collection[int],
        prefetched: caches.PagePostsRead | None = None,
    ) -> dict[int, Post]:
        """Visible posts among ``post_ids`` by id.

        Deleted posts (absent from post-service's answer, or a tombstone in the cache) and posts
        by authors outside ``allowed_authors`` are left out, so stale timeline entries (late
        removal after a delete or an unfollow) are never shown. ``prefetched`` rows (read with
        the timeline) stand in for the cache read when they hold every id.
        """
        wanted = list(dict.fromkeys(post_ids))
        if not wanted:
            return {}
        lookup = await self._cached(wanted, viewer_id, allowed_authors, prefetched)
        HYDRATION_HITS.inc(len(wanted) - len(lookup.missing))
        HYDRATION_MISSES.inc(len(lookup.missing))
        visible = lookup.found
        if lookup.missing:
            HYDRATED_ITEMS.observe(len(lookup.missing))
            fetched = await self.posts.posts_by_id(lookup.missing, viewer_id=viewer_id)
            await self._fill(fetched, viewer_id, lookup)
            visible.update((post.id, post) for post in fetched if post.author.id in allowed_authors)
        return visible

    async def _cached(
        self,
        post_ids: list[int],
        viewer_id: int,
        allowed_authors: Collection[int],
        prefetched: caches.PagePostsRead | None,
    ) -> _Lookup:
        if not self.breaker.usable():
            return _Lookup(missing=post_ids)
        try:
            read = None
            if prefetched is not None and prefetched.viewer_id == viewer_id:
                read = prefetched.covering(post_ids)
            if read is None:
                read = await self.reader.posts(post_ids, viewer_id)
            post_rows, liked_row = read
            lookup = _Lookup(post_versions={}, liked_version=caches.version_of(liked_row[0]))
            parsed: dict[int, tuple[dict[str, Any], int, bool]] = {}
            for post_id, row, liked in zip(post_ids, post_rows, liked_row[1:], strict=True):
                version, body, likes, deleted = row
                lookup.post_versions[post_id] = caches.version_of(version)
                if deleted is not None:
                    continue
                try:
                    fields = orjson.loads(body) if body is not None else None
                    count = int(likes) if likes is not None else None
                except ValueError:
                    fields = None
                if fields is None or count is None or liked is None:
                    lookup.missing.append(post_id)
                elif fields.get("author_id") in allowed_authors:
                    parsed[post_id] = (fields, count, liked == b"1")
            authors = await self._authors({fields["author_id"] for fields, _, _ in parsed.values()})
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)
            return _Lookup(missing=post_ids)
        for post_id, (fields, count, liked_by_me) in parsed.items():
            author = authors.get(fields["author_id"])
            try:
                if author is not None:
                    lookup.found[post_id] = _post(post_id, fields, author, count, liked_by_me)
                    continue
            except (KeyError, TypeError, ValueError):
                pass
            lookup.missing.append(post_id)
        return lookup

    async def _authors(self, author_ids: set[int]) -> dict[int, UserSummary]:
        summaries, ordered = self.recent_authors.get(author_ids)
        if not ordered:
            return summaries
        values = await self.reader.values([caches.user_key(author_id) for author_id in ordered])
        read: dict[int, UserSummary] = {}
        for author_id, raw in zip(ordered, values, strict=True):
            if raw is None:
                continue
            try:
                read[author_id] = _summary(raw)
            except (KeyError, TypeError, ValueError):
                continue
        self.recent_authors.put(read)
        summaries.update(read)
        return summaries

    async def _fill(self, fetched: list[Post], viewer_id: int, lookup: _Lookup) -> None:
        """Caches what post-service answered; author summaries are post-service's to cache."""
        versions = lookup.post_versions
        if not fetched or versions is None or not self.breaker.usable():
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for post in fetched:
                    caches.queue_fill(
                        pipe,
                        caches.post_key(post.id),
                        versions[post.id],
                        {
                            caches.BODY: encode_body(post).decode(),
                            caches.LIKES: str(post.like_count),
                        },
                        self.ttl_seconds,
                    )
                caches.queue_fill(
                    pipe,
                    caches.liked_key(viewer_id),
                    lookup.liked_version,
                    {str(post.id): "1" if post.liked_by_me else "0" for post in fetched},
                    self.ttl_seconds,
                    max_fields=caches.LIKED_MAX_FIELDS,
                )
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)
