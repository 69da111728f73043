"""Fair fan-out: one page of followers per message, the rest queued as chunk tasks.

The events consumer writes only the first page of a post's followers; if there are more, it
queues a :class:`ChunkTask` for the next page on the chunks queue. The chunks consumer writes one
page and queues the next. So a post by a small author (events queue) never waits behind a large
fan-out, and a crash re-does at most one page: the next task is published (with confirms)
before the current message is acknowledged, and page writes are idempotent.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import aio_pika

from fanout_worker.keys import applied_event_key
from fanout_worker.messages import ChunkTask, FanOutOp
from fanout_worker.metrics import DELIVERY_LAG, FANOUT_DURATION, TIMELINE_WRITES
from fanout_worker.publisher import Publisher
from fanout_worker.topology import CHUNKS_QUEUE
from feedline_shared.clients import UserServiceClient
from feedline_shared.redis import AnyRedis
from feedline_shared.timelines import TimelineStore

logger = logging.getLogger(__name__)

FIRST_PAGE = ""


class FanOut:
    def __init__(
        self,
        *,
        users: UserServiceClient,
        timelines: TimelineStore,
        redis: AnyRedis,
        publisher: Publisher,
        celebrity_threshold: int,
        chunk_size: int,
        dedupe_ttl_seconds: int,
    ) -> None:
        self.users = users
        self.timelines = timelines
        self.redis = redis
        self.publisher = publisher
        self.celebrity_threshold = celebrity_threshold
        self.chunk_size = chunk_size
        self.dedupe_ttl_seconds = dedupe_ttl_seconds

    async def add_post(
        self, event_id: str, post_id: int, author_id: int, created_at: datetime
    ) -> None:
        """Puts a new post on its author's timeline and on the built timelines of followers."""
        written = await self.timelines.fan_out([author_id], post_id)
        TIMELINE_WRITES.labels("add").inc(written)
        counts = await self.users.follower_counts([author_id])
        followers = counts.get(author_id, 0)
        if followers > self.celebrity_threshold:
            # Read-time merge in feed-service covers these followers.
            logger.info(
                "celebrity post not fanned out",
                extra={"post_id": post_id, "author_id": author_id, "followers": followers},
            )
            return
        await self.page(self._first_task(event_id, post_id, author_id, "add", created_at))

    async def remove_post(self, event_id: str, post_id: int, author_id: int) -> None:
        """Removes a deleted post from its author's and every follower's timeline.

        Celebrities are included: their count may have crossed the threshold after the post
        was fanned out, and a removal is cheap and idempotent.
        """
        await self.timelines.remove([author_id], [post_id])
        TIMELINE_WRITES.labels("remove").inc()
        await self.page(self._first_task(event_id, post_id, author_id, "remove", None))

    async def resume(self, task: ChunkTask) -> None:
        """Writes the page a chunk task names, once: a repeated task after a crash is skipped."""
        marker = applied_event_key(f"chunk:{task.event_id}", task.cursor)
        if await self.redis.exists(marker):
            logger.info("chunk already written", extra={"cursor": task.cursor})
            return
        await self.page(task)
        await self.redis.set(marker, b"1", ex=self.dedupe_ttl_seconds)

    async def page(self, task: ChunkTask) -> None:
        """Writes one page of followers, then queues the next page or records completion."""
        follower_ids, next_cursor = await self.users.follower_ids_page(
            task.author_id, cursor=task.cursor or None, limit=self.chunk_size
        )
        if task.op == "add":
            written = await self.timelines.fan_out(follower_ids, task.post_id)
        else:
            await self.timelines.remove(follower_ids, [task.post_id])
            written = len(follower_ids)
        TIMELINE_WRITES.labels(task.op).inc(written)
        if next_cursor:
            await self._enqueue(task.model_copy(update={"cursor": next_cursor}))
            return
        now = time.time()
        if task.started_at is not None:
            FANOUT_DURATION.labels(task.op).observe(max(0.0, now - task.started_at))
        if task.op == "add" and task.created_at is not None:
            created = task.created_at
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            DELIVERY_LAG.observe(max(0.0, now - created.timestamp()))

    async def _enqueue(self, task: ChunkTask) -> None:
        message = aio_pika.Message(
            task.model_dump_json().encode(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=task.event_id,
            type=ChunkTask.type,
        )
        await self.publisher.to_queue(CHUNKS_QUEUE, message)

    @staticmethod
    def _first_task(
        event_id: str, post_id: int, author_id: int, op: FanOutOp, created_at: datetime | None
    ) -> ChunkTask:
        return ChunkTask(
            event_id=event_id,
            post_id=post_id,
            author_id=author_id,
            created_at=created_at,
            cursor=FIRST_PAGE,
            op=op,
            started_at=time.time(),
        )
