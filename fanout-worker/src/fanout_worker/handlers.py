"""One handler per message type. Each takes the message, its event id, and the dependencies it
names as keyword arguments (injected by :mod:`fanout_worker.bootstrap`). Handlers are idempotent:
any message may be delivered twice.
"""

from __future__ import annotations

from fanout_worker.affinity import AffinityStore
from fanout_worker.fanout import FanOut
from fanout_worker.messages import ChunkTask
from feedline_shared import caches
from feedline_shared.clients import PostServiceClient
from feedline_shared.events import (
    PostCreated,
    PostDeleted,
    PostLiked,
    PostUnliked,
    UserDeleted,
    UserFollowed,
    UserUnfollowed,
    UserUpdated,
)
from feedline_shared.redis import AnyRedis
from feedline_shared.timelines import TimelineStore

#: The largest ``limit`` post-service's by-authors route accepts.
BY_AUTHORS_MAX = 1000


async def post_created(event: PostCreated, event_id: str, *, fanout: FanOut) -> None:
    await fanout.add_post(event_id, event.post_id, event.author_id, event.created_at)


async def post_deleted(
    event: PostDeleted, event_id: str, *, fanout: FanOut, redis: AnyRedis
) -> None:
    # post-service wrote the tombstone when it committed; repeated in case that write failed.
    await caches.invalidate_deletion(redis, event.post_id)
    await fanout.remove_post(event_id, event.post_id, event.author_id)


async def fan_out_chunk(task: ChunkTask, event_id: str, *, fanout: FanOut) -> None:
    await fanout.resume(task)


async def _recent_post_ids(
    posts: PostServiceClient, author_id: int, timelines: TimelineStore
) -> list[int]:
    refs = await posts.posts_by_authors([author_id], limit=min(timelines.cap, BY_AUTHORS_MAX))
    return [ref.id for ref in refs]


async def user_followed(
    event: UserFollowed,
    event_id: str,
    *,
    fanout: FanOut,
    posts: PostServiceClient,
    timelines: TimelineStore,
    redis: AnyRedis,
) -> None:
    # Repeats user-service's after-commit invalidations, in case those failed.
    await caches.invalidate_following(redis, event.follower_id)
    await fanout.followee_grew_large(event)
    post_ids = await _recent_post_ids(posts, event.followee_id, timelines)
    # No-op on an unbuilt timeline: its next read rebuilds it with the new followee.
    await timelines.merge(event.follower_id, event.followee_id, post_ids)


async def user_unfollowed(
    event: UserUnfollowed,
    event_id: str,
    *,
    posts: PostServiceClient,
    timelines: TimelineStore,
    redis: AnyRedis,
) -> None:
    await caches.invalidate_following(redis, event.follower_id)
    post_ids = await _recent_post_ids(posts, event.followee_id, timelines)
    await timelines.unmerge(event.follower_id, event.followee_id, post_ids)


async def post_liked(
    event: PostLiked, event_id: str, *, affinity: AffinityStore, redis: AnyRedis
) -> None:
    # Repeats post-service's after-commit invalidation, in case that one failed.
    await caches.invalidate_like(redis, event.post_id, event.user_id)
    await affinity.add(event.user_id, event.author_id, 1, event_id)


async def post_unliked(
    event: PostUnliked, event_id: str, *, affinity: AffinityStore, redis: AnyRedis
) -> None:
    await caches.invalidate_like(redis, event.post_id, event.user_id)
    await affinity.add(event.user_id, event.author_id, -1, event_id)


async def user_updated(event: UserUpdated, event_id: str, *, redis: AnyRedis) -> None:
    # Repeats user-service's after-commit invalidation, in case that one failed.
    await caches.invalidate_author(redis, event.user_id)


async def user_deleted(
    event: UserDeleted,
    event_id: str,
    *,
    posts: PostServiceClient,
    timelines: TimelineStore,
    redis: AnyRedis,
) -> None:
    # Repeats user-service's after-commit marking (its former followers' follow sets, which
    # only user-service knew, lapse on their own TTL if that one failed).
    await caches.invalidate_deleted_account(redis, event.user_id)
    # The account's posts and likes go, each with its own event (removal from timelines,
    # tombstones, like counts); a post-service outage retries this message.
    await posts.erase_author(event.user_id)
    await timelines.drop(event.user_id)


HANDLERS = {
    PostCreated: post_created,
    PostDeleted: post_deleted,
    ChunkTask: fan_out_chunk,
    UserFollowed: user_followed,
    UserUnfollowed: user_unfollowed,
    PostLiked: post_liked,
    PostUnliked: post_unliked,
    UserUpdated: user_updated,
    UserDeleted: user_deleted,
}
