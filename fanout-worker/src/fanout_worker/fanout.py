"""Fair fan-out: one page of followers per message, the rest queued as chunk tasks.

The events consumer writes only the first page of a post's followers; if there are more, it
queues a :class:`ChunkTask` for the next page on the chunks queue. The chunks consumer writes one
page and queues the next. So a post by a small author (events queue) never waits behind a large
fan-out.

A page queues its successor as soon as the follower page is fetched, while writing it, so the
next page's fetch overlaps this page's Redis writes (pages of one post are in flight on up to
``chunks_prefetch`` messages at once). A crash re-does at most the pages in flight: the next task
is published (with confirms) before the current message is acknowledged, and page writes are
idempotent. A chunk also records which successor it queued, so a retried page does not queue
the rest of the fan-out a second time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TypeVar

import aio_pika

from fanout_worker.keys import applied_event_key
from fanout_worker.messages import ChunkTask, FanOutOp
from fanout_worker.metrics import DELIVERY_LAG, FANOUT_DURATION, MARK_SEEDS, TIMELINE_WRITES
from fanout_worker.publisher import Publisher
from fanout_worker.redelivery import first_delivery
from fanout_worker.topology import CHUNKS_QUEUE
from feedline_shared import caches
from feedline_shared.clients import FollowerPage, UserServiceClient
from feedline_shared.events import UserFollowed
from feedline_shared.problems import NotFound
from feedline_shared.redis import AnyRedis
from feedline_shared.timeline_mark import new_chain
from feedline_shared.timelines import TimelineStore

logger = logging.getLogger(__name__)

FIRST_PAGE = ""
NO_FOLLOWERS = FollowerPage([], None, 0)

T = TypeVar("T")


async def alongside(main: Awaitable[T], side: Awaitable[object]) -> T:
    """``main``'s result, with ``side`` awaited concurrently.

    Both run to the end even when one fails (a side step cut short, such as a successor queued
    but not yet recorded, would be repeated by the retry); the failure is raised as itself,
    ``main``'s first, so the consumer tells retryable from permanent as for a single call.
    """
    outcomes = await asyncio.gather(main, side, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes[0]  # type: ignore[return-value]


def chunk_markers(task: ChunkTask) -> tuple[str, str]:
    """The keys marking a chunk's page as written and holding the successor cursor it queued.

    Two keys rather than two values of one: a worker of the previous release, which treats any
    value of the first as "written", must not skip a page that was only queued. One hash tag, so
    both are read in one MGET on Redis Cluster too.
    """
    scope = f"chunk:{task.event_id}"
    return applied_event_key(scope, task.cursor), applied_event_key(scope, f"{task.cursor}:next")


async def set_timeline_mark(timelines: TimelineStore) -> bool:
    """Sets the timelines' high-water mark from their heads if it is missing; True once it is
    there. Every attempt that found it missing is counted and logged."""
    try:
        outcome = await timelines.seed_mark()
    except Exception:  # the next write that finds no mark tries again
        MARK_SEEDS.labels("failed").inc()
        logger.warning("could not set the timelines' high-water mark", exc_info=True)
        return False
    if outcome in ("set", "busy", "lapsed"):
        MARK_SEEDS.labels(outcome).inc()
        logger.info("timelines' high-water mark was missing", extra={"outcome": outcome})
    return outcome in ("present", "set")


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
        self._seeding: asyncio.Task[bool] | None = None

    async def add_post(
        self, event_id: str, post_id: int, author_id: int, created_at: datetime
    ) -> None:
        """Puts a new post on its author's timeline and on the built timelines of followers.

        The author's own timeline is written while the first follower page is fetched, and that
        page carries the follower count: the celebrity cut costs no call of its own.
        """
        task = self._first_task(event_id, post_id, author_id, "add", created_at)
        first = await alongside(
            self._fetch(task, max_followers=self.celebrity_threshold),
            self._write_own(author_id, post_id, task.chain),
        )
        followers = first.followers_count
        if followers is None:
            # A user-service of the previous release sends no count (nor honours the cut).
            counts = await self.users.follower_counts([author_id])
            followers = counts.get(author_id, 0)
        if followers > self.celebrity_threshold:
            # Read-time merge in feed-service covers these followers.
            logger.info(
                "celebrity post not fanned out",
                extra={"post_id": post_id, "author_id": author_id, "followers": followers},
            )
            return
        await self.page(task, fetched=first)

    async def followee_grew_large(self, followed: UserFollowed) -> None:
        """Drops the follow sets of a new celebrity's followers, when this follow took it past
        the threshold: user-service did so after its commit, unless Redis failed then, and until
        they are read again those readers would get its posts neither fanned out nor merged at
        read time."""
        if not followed.took_followee_past(self.celebrity_threshold):
            return
        cursor: str | None = None
        while True:
            try:
                page = await self.users.follower_page(
                    followed.followee_id, cursor=cursor, limit=self.chunk_size
                )
            except NotFound:
                return  # deleted since: its followers' sets were dropped with the account
            await caches.invalidate_followings(self.redis, page.ids)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def _write_own(self, author_id: int, post_id: int, chain: str | None) -> None:
        written = await self.timelines.fan_out([author_id], post_id, claim=chain)
        TIMELINE_WRITES.labels("add").inc(written)
        self._seed_mark_if_missing()

    def _seed_mark_if_missing(self) -> None:
        """Starts setting the timelines' high-water mark again once a write found it missing
        (a new or flushed Redis): until then every fan-out write reads heads, which is slower
        but as correct. One seeding at a time per worker; Redis keeps it to one across them."""
        if self.timelines.mark_present or (self._seeding and not self._seeding.done()):
            return
        self._seeding = asyncio.create_task(set_timeline_mark(self.timelines))

    async def wait_for_mark(self) -> bool:
        """The outcome of the seeding in progress (True when none is)."""
        return await self._seeding if self._seeding is not None else True

    async def remove_post(self, event_id: str, post_id: int, author_id: int) -> None:
        """Removes a deleted post from its author's and every follower's timeline.

        Celebrities are included: their count may have crossed the threshold after the post
        was fanned out, and a removal is cheap and idempotent.
        """
        await self.timelines.remove([author_id], [post_id])
        TIMELINE_WRITES.labels("remove").inc()
        await self.page(self._first_task(event_id, post_id, author_id, "remove", None))

    async def resume(self, task: ChunkTask) -> None:
        """Writes the page a chunk task names, once: a repeated task after a crash is skipped.

        A page on a later delivery drops its chain's claim (so do the pages it queues): it may
        have written some timelines already.
        """
        if task.chain is not None and not first_delivery.get():
            task = task.model_copy(update={"chain": None})
        written_key, queued_key = chunk_markers(task)
        written, queued = await self.redis.mget(written_key, queued_key)
        if written is not None:
            logger.info("chunk already written", extra={"cursor": task.cursor})
            return
        await self.page(
            task, queued_key=queued_key, queued=queued.decode() if queued is not None else None
        )
        await self.redis.set(written_key, b"1", ex=self.dedupe_ttl_seconds)

    async def page(
        self,
        task: ChunkTask,
        *,
        queued_key: str | None = None,
        queued: str | None = None,
        fetched: FollowerPage | None = None,
    ) -> None:
        """Queues the next page, writes this one, and records completion after the last page.

        ``queued_key`` is where a chunk records the successor cursor it queued; ``queued`` what
        an earlier attempt of the same chunk recorded there; ``fetched`` this page, when the
        caller already has it.

        Completion (FANOUT_DURATION, DELIVERY_LAG) is recorded when the last page is written.
        Earlier pages may still be writing then (those on the other messages in flight, each
        started before the last page was even fetched), so both figures can read short by up to
        about one page write: a few milliseconds against a fan-out of hundreds.
        """
        page = fetched if fetched is not None else await self._fetch(task)
        next_cursor = page.next_cursor
        write = self._write(task, page.ids)
        # A retried page whose successor is already queued must not queue it again: every
        # failed attempt would otherwise start another copy of the rest of the fan-out. A
        # different cursor (followers changed in between) is queued, so no follower is skipped.
        if next_cursor and next_cursor != queued:
            await alongside(write, self._queue_successor(task, next_cursor, queued_key))
        else:
            await write
        if next_cursor:
            return
        now = time.time()
        if task.started_at is not None:
            FANOUT_DURATION.labels(task.op).observe(max(0.0, now - task.started_at))
        if task.op == "add" and task.created_at is not None:
            created = task.created_at
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            DELIVERY_LAG.observe(max(0.0, now - created.timestamp()))

    async def _fetch(self, task: ChunkTask, *, max_followers: int | None = None) -> FollowerPage:
        try:
            return await self.users.follower_page(
                task.author_id,
                cursor=task.cursor or None,
                limit=self.chunk_size,
                max_followers=max_followers,
            )
        except NotFound:
            # The author's account was deleted: it has no followers left to write to (its
            # posts' entries in former followers' timelines are filtered out on every read,
            # their author being neither followed nor known). Not a poison message.
            logger.info(
                "author no longer exists; nothing to fan out",
                extra={"author_id": task.author_id, "post_id": task.post_id, "op": task.op},
            )
            return NO_FOLLOWERS

    async def _write(self, task: ChunkTask, follower_ids: list[int]) -> None:
        if task.op == "add":
            written = await self.timelines.fan_out(follower_ids, task.post_id, claim=task.chain)
            self._seed_mark_if_missing()
        else:
            await self.timelines.remove(follower_ids, [task.post_id])
            written = len(follower_ids)
        TIMELINE_WRITES.labels(task.op).inc(written)

    async def _queue_successor(
        self, task: ChunkTask, next_cursor: str, queued_key: str | None
    ) -> None:
        # Published (with confirms) before this page's message is acknowledged: a crash in
        # between re-does this page, never loses the rest.
        await self._enqueue(task.model_copy(update={"cursor": next_cursor}))
        if queued_key is not None:
            await self.redis.set(queued_key, next_cursor, ex=self.dedupe_ttl_seconds)

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
            # A new claim for each first delivery of the event: a second copy of it (published
            # twice, or redelivered) must not push blindly where the first one already wrote.
            chain=new_chain() if op == "add" and first_delivery.get() else None,
        )
