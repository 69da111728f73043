"""The home feed: chronological and ranked pages (no HTTP here; routes call ``read_feed``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from redis.exceptions import RedisError

from feed_service.chronological import Hydrator, Slice, read_chronological
from feed_service.cursors import (
    FeedCursor,
    Ranking,
    before_cursor,
    decode_feed_cursor,
    snapshot_cursor,
)
from feed_service.hydration import PostHydrator
from feed_service.metrics import FEED_REQUESTS
from feed_service.plan import FeedPlan, FeedPlanner
from feed_service.ranking import AffinityReader, RankWeights, Snapshot, SnapshotStore, rank
from feed_service.schemas import FeedPage
from feedline_shared.problems import BadRequest
from feedline_shared.schemas import Post

logger = logging.getLogger(__name__)

SNAPSHOT_GONE = (
    "This ranked feed snapshot has expired; restart from the first page (request without a cursor)"
)


@dataclass(frozen=True, slots=True)
class Feed:
    """Everything a feed read needs, built once in the app's lifespan."""

    planner: FeedPlanner
    hydrator: PostHydrator
    affinity: AffinityReader
    snapshots: SnapshotStore
    weights: RankWeights
    rank_window: int
    overfetch: int
    max_rounds: int


async def read_feed(
    feed: Feed, user_id: int, *, limit: int, cursor: str | None, ranking: Ranking
) -> FeedPage:
    position = decode_feed_cursor(cursor, ranking)
    if ranking is Ranking.ranked and position is None:
        return await _ranked_first_page(feed, user_id, limit)
    if position is not None and position.snapshot is not None:
        return await _ranked_snapshot_page(feed, user_id, limit, position)
    before = position.before if position is not None else None
    plan = await feed.planner.plan(
        user_id, before=before, count=limit + feed.overfetch, page_size=limit
    )
    page = await _chronological(feed, plan, before=before, limit=limit)
    FEED_REQUESTS.labels(plan.source).inc()
    return FeedPage(items=page.posts, next_cursor=before_cursor(ranking, page.next_before))


def _hydrator(feed: Feed, plan: FeedPlan) -> Hydrator:
    async def hydrate_for_viewer(post_ids: Sequence[int]) -> dict[int, Post]:
        return await feed.hydrator.visible(
            post_ids,
            viewer_id=plan.user_id,
            allowed_authors=plan.allowed_authors,
            prefetched=plan.prefetched,
        )

    return hydrate_for_viewer


async def _chronological(feed: Feed, plan: FeedPlan, *, before: int | None, limit: int) -> Slice:
    return await read_chronological(
        plan.sources,
        _hydrator(feed, plan),
        before=before,
        limit=limit,
        overfetch=feed.overfetch,
        max_rounds=feed.max_rounds,
    )


async def _ranked_first_page(feed: Feed, user_id: int, limit: int) -> FeedPage:
    plan = await feed.planner.plan(
        user_id,
        before=None,
        count=feed.rank_window + feed.overfetch,
        page_size=feed.rank_window,
    )
    FEED_REQUESTS.labels(plan.source).inc()
    window = await _chronological(feed, plan, before=None, limit=feed.rank_window)
    try:
        affinities = await feed.affinity.read(user_id, [p.author.id for p in window.posts])
    except (RedisError, OSError):
        return _unranked_page(window, limit)
    ranked = rank(window.posts, viewer_id=user_id, affinities=affinities, weights=feed.weights)
    head, rest = ranked[:limit], ranked[limit:]
    if len(head) < limit and window.next_before is not None:
        # A window smaller than the page: fill the page from the chronological rest.
        more = await _chronological(feed, plan, before=window.next_before, limit=limit - len(head))
        return FeedPage(
            items=[*head, *more.posts],
            next_cursor=before_cursor(Ranking.ranked, more.next_before),
        )
    if not rest:
        return FeedPage(items=head, next_cursor=before_cursor(Ranking.ranked, window.next_before))
    snapshot = Snapshot([p.id for p in ranked], window.next_before)
    try:
        snapshot_id = await feed.snapshots.save(user_id, snapshot)
    except (RedisError, OSError):
        return _unranked_page(window, limit)
    return FeedPage(items=head, next_cursor=snapshot_cursor(snapshot_id, limit))


def _unranked_page(window: Slice, limit: int) -> FeedPage:
    """Without Redis there is no affinity and no snapshot: the ranked feed falls back to
    chronological order, paged with ranked cursors that continue below an id."""
    items = window.posts[:limit]
    more = len(window.posts) > limit
    next_before = items[-1].id if more else window.next_before
    return FeedPage(items=items, next_cursor=before_cursor(Ranking.ranked, next_before))


async def _ranked_snapshot_page(
    feed: Feed, user_id: int, limit: int, position: FeedCursor
) -> FeedPage:
    assert position.snapshot is not None
    try:
        snapshot = await feed.snapshots.load(user_id, position.snapshot)
    except (RedisError, OSError):
        snapshot = None
    if snapshot is None:
        raise BadRequest(SNAPSHOT_GONE)
    plan = await feed.planner.plan(
        user_id, before=snapshot.continue_before, count=limit + feed.overfetch, page_size=limit
    )
    FEED_REQUESTS.labels(plan.source).inc()
    hydrate_visible = _hydrator(feed, plan)
    items: list[Post] = []
    offset = position.offset
    ids = snapshot.post_ids
    for _ in range(feed.max_rounds):
        if len(items) >= limit or offset >= len(ids):
            break
        chunk = ids[offset : offset + limit - len(items)]
        visible = await hydrate_visible(chunk)
        items.extend(visible[i] for i in chunk if i in visible)
        offset += len(chunk)
    if offset < len(ids):
        return FeedPage(items=items, next_cursor=snapshot_cursor(position.snapshot, offset))
    next_before = snapshot.continue_before
    if len(items) < limit and next_before is not None:
        more = await _chronological(feed, plan, before=next_before, limit=limit - len(items))
        items.extend(more.posts)
        next_before = more.next_before
    return FeedPage(items=items, next_cursor=before_cursor(Ranking.ranked, next_before))
