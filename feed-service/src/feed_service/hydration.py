"""Post ids to Post objects in one post-service batch, keeping only what the viewer may see."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from feed_service.metrics import HYDRATED_ITEMS
from feedline_shared.clients import PostServiceClient
from feedline_shared.schemas import Post


async def hydrate(
    posts: PostServiceClient,
    post_ids: Sequence[int],
    *,
    viewer_id: int,
    allowed_authors: Collection[int],
) -> dict[int, Post]:
    """Visible posts among ``post_ids`` by id.

    Deleted posts are absent from post-service's answer and posts by authors outside
    ``allowed_authors`` are dropped, so stale timeline entries (late removal after a delete or an
    unfollow) are never shown.
    """
    if not post_ids:
        return {}
    HYDRATED_ITEMS.observe(len(post_ids))
    found = await posts.posts_by_id(list(post_ids), viewer_id=viewer_id)
    return {post.id: post for post in found if post.author.id in allowed_authors}
