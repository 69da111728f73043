"""Rebuilding a home timeline from the databases, once per user however many readers miss.

Single flight has two layers: within a process, concurrent misses for one user share one task;
across processes, a Redis lock (``SET NX PX``) elects one rebuilder and the others poll the
timeline's built flag until it appears or the lock's timeout passes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Sequence

from feed_service.metrics import REBUILD_DURATION
from feed_service.sources import POSTS_BY_AUTHORS_MAX
from feedline_shared.clients import PostServiceClient
from feedline_shared.redis import AnyRedis
from feedline_shared.timelines import TimelineStore

logger = logging.getLogger(__name__)

# Deletes the lock only if it still holds our token (it may have expired and been re-taken).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class TimelineRebuilder:
    def __init__(
        self,
        store: TimelineStore,
        posts: PostServiceClient,
        *,
        lock_timeout_seconds: float,
        poll_seconds: float,
    ) -> None:
        self.store = store
        self.redis: AnyRedis = store.redis
        self.posts = posts
        self.lock_timeout_ms = int(lock_timeout_seconds * 1000)
        self.poll_seconds = poll_seconds
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._release = self.redis.register_script(_RELEASE)

    def lock_key(self, user_id: int) -> str:
        # Same hash tag as the timeline keys, so all of one user's keys live on one cluster slot.
        return f"{self.store.prefix}:tlr:{{{user_id}}}"

    async def ensure_built(self, user_id: int, regular_followees: Sequence[int]) -> None:
        """Returns once the timeline is built: here, by a concurrent call or by another process."""
        task = self._in_flight.get(user_id)
        if task is None:
            task = asyncio.create_task(self._build_once(user_id, list(regular_followees)))
            self._in_flight[user_id] = task
            task.add_done_callback(lambda done: self._forget(user_id, done))
        # Shielded: one reader giving up (client gone) must not cancel the others' rebuild.
        await asyncio.shield(task)

    def _forget(self, user_id: int, task: asyncio.Task[None]) -> None:
        if self._in_flight.get(user_id) is task:
            del self._in_flight[user_id]
        if not task.cancelled():
            # Retrieved here so a failure nobody awaited anymore is not reported as lost.
            task.exception()

    async def _is_built(self, user_id: int) -> bool:
        return bool(await self.redis.exists(self.store.meta_key(user_id)))

    async def _build_once(self, user_id: int, regular_followees: list[int]) -> None:
        # A reader that saw "not built" just before another rebuild finished must not redo it.
        if await self._is_built(user_id):
            return
        token = secrets.token_hex(8)
        key = self.lock_key(user_id)
        if await self.redis.set(key, token, nx=True, px=self.lock_timeout_ms):
            try:
                if not await self._is_built(user_id):
                    await self._rebuild(user_id, regular_followees)
            finally:
                await self._release(keys=[key], args=[token])
            return
        if await self._wait_for_other_process(user_id):
            return
        logger.warning("timeline rebuild by another process timed out; rebuilding here")
        await self._rebuild(user_id, regular_followees)

    async def _wait_for_other_process(self, user_id: int) -> bool:
        deadline = time.monotonic() + self.lock_timeout_ms / 1000
        while time.monotonic() < deadline:
            if await self._is_built(user_id):
                return True
            await asyncio.sleep(self.poll_seconds)
        return await self._is_built(user_id)

    async def _rebuild(self, user_id: int, regular_followees: list[int]) -> None:
        started = time.perf_counter()
        authors = [*dict.fromkeys([*regular_followees, user_id])]
        limit = min(self.store.cap, POSTS_BY_AUTHORS_MAX)
        refs = await self.posts.posts_by_authors(authors, limit=limit)
        post_ids = [ref.id for ref in refs]
        await self.store.rebuild(user_id, post_ids, regular_followees)
        # Fan-outs skip unbuilt timelines: posts created while we read the snapshot were written
        # nowhere, so read what is newer than the snapshot now that fan-out reaches this timeline.
        newest = max(post_ids) if post_ids else None
        # From the primary: a replica a moment behind would miss exactly these posts.
        late = await self.posts.posts_by_authors(authors, after=newest, limit=limit, primary=True)
        for ref in late:
            await self.store.fan_out([user_id], ref.id)
        REBUILD_DURATION.observe(time.perf_counter() - started)
        logger.info(
            "timeline rebuilt",
            extra={"user_id": user_id, "posts": len(post_ids), "late_posts": len(late)},
        )
