"""The chronological stream: sources merged newest first, deduplicated, hydrated, filtered."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from feed_service.sources import IdSource
from feedline_shared.schemas import Post

#: Ids read per source and round at most (post-service hydrates up to 500 ids per call).
MAX_ROUND_IDS = 500

Hydrator = Callable[[Sequence[int]], Awaitable[dict[int, Post]]]


@dataclass(frozen=True, slots=True)
class Slice:
    """Posts newest first, and the id to read strictly below next (None: the stream is done)."""

    posts: list[Post]
    next_before: int | None


async def read_chronological(
    sources: Sequence[IdSource],
    hydrate: Hydrator,
    *,
    before: int | None,
    limit: int,
    overfetch: int,
    max_rounds: int,
) -> Slice:
    """Up to ``limit`` visible posts strictly older than ``before``, newest first.

    The first round reads ``need + overfetch`` ids from every source, later ones twice as many
    as the round before. An id is placed only when no source can still produce a newer one: the
    *frontier* is the oldest id returned by a source that is not exhausted, and ids below it
    wait for the next round. A round hydrates its first ``need`` placed ids in one batch, and
    the rest in a second only when those did not fill the page (or the stream ends there);
    filtered ones (deleted, no longer followed) make the page short, so another round reads
    further. After ``max_rounds`` a short page is returned with a cursor below the last id
    examined, so a run of filtered items never ends the feed.
    """
    posts: list[Post] = []
    seen: set[int] = set()
    cursor = before
    for round_index in range(max_rounds):
        need = limit - len(posts)
        # Each further round reads twice as far: a long run of filtered items ends quickly.
        count = min((need + overfetch) << round_index, MAX_ROUND_IDS)
        batches = await asyncio.gather(*(source.fetch(cursor, count) for source in sources))
        live = [batch.ids[-1] for batch in batches if not batch.exhausted and batch.ids]
        frontier = max(live) if live else None
        candidates = sorted(
            {
                post_id
                for batch in batches
                for post_id in batch.ids
                if post_id not in seen and (frontier is None or post_id >= frontier)
            },
            reverse=True,
        )
        examined = candidates[:count]
        if len(examined) < len(candidates):
            frontier = examined[-1]
        # The page usually fills from its first ``need`` ids: the overfetched rest (a third of a
        # default page's Redis reads and post parsing) is hydrated only when some of those were
        # filtered out, or when this round ends the stream and whether anything visible follows
        # decides the cursor.
        visible = await hydrate(examined[:need])
        rest = examined[need:]
        if rest and (frontier is None or len(visible) < need):
            visible.update(await hydrate(rest))
        for index, post_id in enumerate(examined):
            seen.add(post_id)
            post = visible.get(post_id)
            if post is None:
                continue
            posts.append(post)
            if len(posts) == limit:
                more = frontier is not None or any(p in visible for p in examined[index + 1 :])
                return Slice(posts, post_id if more else None)
        if frontier is None:
            return Slice(posts, None)
        cursor = frontier
    return Slice(posts, cursor)
