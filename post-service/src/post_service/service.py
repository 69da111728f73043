"""Business rules of posts and likes, free of HTTP.

Every function takes the request's session and never commits: the request scope commits once, so
a change and the outbox event announcing it are stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Integer,
    Row,
    Select,
    any_,
    bindparam,
    delete,
    exists,
    false,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from feedline_shared.cache_invalidation import CacheInvalidation
from feedline_shared.cursors import cursor_int, decode_cursor, encode_cursor
from feedline_shared.events import PostCreated, PostDeleted, PostLiked, PostUnliked
from feedline_shared.ids import MAX_ID, IdGenerator
from feedline_shared.outbox import add_event, add_events
from feedline_shared.problems import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from feedline_shared.schemas import Post, PostCreateRequest, UserSummary
from post_service.authors import AuthorDirectory
from post_service.models import idempotency_keys, likes, outbox, posts
from post_service.schemas import LikeState, PostPage

POST_NOT_FOUND = "Post not found"


def _live(post_id: int) -> ColumnElement[bool]:
    return (posts.c.id == post_id) & posts.c.deleted_at.is_(None)


def _post_rows(viewer_id: int | ColumnElement[int] | None) -> Select[Any]:
    """Post columns plus ``liked_by_me`` for the viewer (an id or a bound parameter), in the
    same query."""
    liked: ColumnElement[bool] = (
        exists().where(likes.c.post_id == posts.c.id, likes.c.user_id == viewer_id)
        if viewer_id is not None
        else false()
    )
    return select(
        posts.c.id,
        posts.c.author_id,
        posts.c.caption,
        posts.c.media_url,
        posts.c.created_at,
        posts.c.deleted_at,
        posts.c.like_count,
        liked.label("liked_by_me"),
    )


def _post(row: Row[Any], author: UserSummary) -> Post:
    return Post(
        id=row.id,
        author=author,
        caption=row.caption,
        media_url=row.media_url,
        created_at=row.created_at,
        like_count=row.like_count,
        liked_by_me=row.liked_by_me,
    )


async def _render(authors: AuthorDirectory, rows: Sequence[Row[Any]]) -> list[Post]:
    """Posts with their authors; a post whose author user-service no longer knows is left out."""
    summaries = await authors.summaries(row.author_id for row in rows)
    return [_post(row, summaries[row.author_id]) for row in rows if row.author_id in summaries]


async def create_post(
    session: AsyncSession,
    authors: AuthorDirectory,
    ids: IdGenerator,
    *,
    author_id: int,
    request: PostCreateRequest,
    idempotency_key: str | None,
) -> Post:
    """Stores a post and its ``post.created`` event; a repeated Idempotency-Key returns the
    post the first request created instead of a duplicate."""
    if not request.caption.strip():
        raise ValidationFailed("caption must not be blank", field="caption")
    # Looked up before writing anything, so a user-service outage leaves nothing half done.
    author = await authors.summary(author_id)
    if author is None:
        raise Unauthorized("The acting user does not exist")
    post_id = ids.next_id()
    if idempotency_key is not None:
        # Concurrent duplicates block here until the first one commits, then get no row back.
        claimed = await session.scalar(
            pg_insert(idempotency_keys)
            .values(author_id=author_id, key=idempotency_key, post_id=post_id)
            .on_conflict_do_nothing()
            .returning(idempotency_keys.c.post_id)
        )
        if claimed is None:
            return await _replay(session, author, request, idempotency_key)
    created_at = await session.scalar(
        insert(posts)
        .values(
            id=post_id, author_id=author_id, caption=request.caption, media_url=request.media_url
        )
        .returning(posts.c.created_at)
    )
    await add_event(
        session, outbox, PostCreated(post_id=post_id, author_id=author_id, created_at=created_at)
    )
    return Post(
        id=post_id,
        author=author,
        caption=request.caption,
        media_url=request.media_url,
        created_at=created_at,
        like_count=0,
        liked_by_me=False,
    )


async def _replay(
    session: AsyncSession, author: UserSummary, request: PostCreateRequest, key: str
) -> Post:
    post_id = await session.scalar(
        select(idempotency_keys.c.post_id).where(
            idempotency_keys.c.author_id == author.id, idempotency_keys.c.key == key
        )
    )
    row = (
        None
        if post_id is None
        else (await session.execute(_post_rows(author.id).where(posts.c.id == post_id))).first()
    )
    if row is None:
        raise Conflict("A request with this Idempotency-Key is still in progress; retry")
    if row.caption != request.caption or row.media_url != request.media_url:
        raise ValidationFailed(
            "This Idempotency-Key was already used with a different request",
            field="Idempotency-Key",
        )
    if row.deleted_at is not None:
        raise Conflict("The post created with this Idempotency-Key has been deleted")
    return _post(row, author)


async def get_post(
    session: AsyncSession, authors: AuthorDirectory, post_id: int, viewer_id: int | None
) -> Post:
    row = (await session.execute(_post_rows(viewer_id).where(_live(post_id)))).first()
    rendered = await _render(authors, [row]) if row is not None else []
    if not rendered:
        raise NotFound(POST_NOT_FOUND)
    return rendered[0]


async def delete_post(
    session: AsyncSession, cache: CacheInvalidation, post_id: int, user_id: int
) -> None:
    """Soft delete by the author: the row stays as a tombstone and ``post.deleted`` goes out."""
    deleted = await session.scalar(
        update(posts)
        .where(_live(post_id), posts.c.author_id == user_id)
        .values(deleted_at=func.now())
        .returning(posts.c.id)
    )
    if deleted is None:
        exists_live = await session.scalar(select(posts.c.id).where(_live(post_id)))
        if exists_live is None:
            raise NotFound(POST_NOT_FOUND)
        raise Forbidden("Only the author can delete this post")
    await add_event(session, outbox, PostDeleted(post_id=post_id, author_id=user_id))
    cache.post_deleted(session, post_id)


async def like_post(
    session: AsyncSession,
    cache: CacheInvalidation,
    authors: AuthorDirectory,
    post_id: int,
    user_id: int,
) -> LikeState:
    """Idempotent; the counter moves, and ``post.liked`` goes out, only for a new like."""
    # A like is the one write that names no row of the acting user here: without this a
    # deleted account's still-valid token could add likes after its erasure.
    if await authors.summary(user_id) is None:
        raise Unauthorized("The acting user does not exist")
    author_id = await session.scalar(select(posts.c.author_id).where(_live(post_id)))
    if author_id is None:
        raise NotFound(POST_NOT_FOUND)
    inserted = await session.scalar(
        pg_insert(likes)
        .values(post_id=post_id, user_id=user_id)
        .on_conflict_do_nothing()
        .returning(likes.c.post_id)
    )
    if inserted is None:
        return LikeState(liked=True, like_count=await _like_count(session, post_id))
    like_count = await _shift_like_count(session, post_id, +1)
    await add_event(
        session,
        outbox,
        PostLiked(post_id=post_id, author_id=author_id, user_id=user_id, like_count=like_count),
    )
    cache.like_changed(session, post_id, user_id)
    return LikeState(liked=True, like_count=like_count)


async def unlike_post(
    session: AsyncSession, cache: CacheInvalidation, post_id: int, user_id: int
) -> LikeState:
    """Idempotent; the counter moves, and ``post.unliked`` goes out, only for a removed like."""
    author_id = await session.scalar(select(posts.c.author_id).where(_live(post_id)))
    if author_id is None:
        raise NotFound(POST_NOT_FOUND)
    removed = await session.scalar(
        delete(likes)
        .where(likes.c.post_id == post_id, likes.c.user_id == user_id)
        .returning(likes.c.post_id)
    )
    if removed is None:
        return LikeState(liked=False, like_count=await _like_count(session, post_id))
    like_count = await _shift_like_count(session, post_id, -1)
    await add_event(
        session,
        outbox,
        PostUnliked(post_id=post_id, author_id=author_id, user_id=user_id, like_count=like_count),
    )
    cache.like_changed(session, post_id, user_id)
    return LikeState(liked=False, like_count=like_count)


async def _like_count(session: AsyncSession, post_id: int) -> int:
    count = await session.scalar(select(posts.c.like_count).where(_live(post_id)))
    if count is None:
        raise NotFound(POST_NOT_FOUND)
    return int(count)


async def _shift_like_count(session: AsyncSession, post_id: int, delta: int) -> int:
    # Relative update under the row lock: concurrent likes each add one, none is lost.
    count = await session.scalar(
        update(posts)
        .where(_live(post_id))
        .values(like_count=posts.c.like_count + delta)
        .returning(posts.c.like_count)
    )
    if count is None:
        # Deleted meanwhile: raising rolls the like row back with the rest of the request.
        raise NotFound(POST_NOT_FOUND)
    return int(count)


async def list_user_posts(
    session: AsyncSession,
    authors: AuthorDirectory,
    *,
    username: str,
    viewer_id: int | None,
    limit: int,
    cursor: str | None,
) -> PostPage:
    """One page of a user's posts, newest first. The cursor is the last id shown, so posts
    created while the client pages never shift the following pages."""
    fields = decode_cursor(cursor, required=("before",))
    before = cursor_int(fields, "before") if fields is not None else None
    author_id = await authors.user_id_by_username(username)
    query = (
        _post_rows(viewer_id)
        .where(posts.c.author_id == author_id, posts.c.deleted_at.is_(None))
        .order_by(posts.c.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(posts.c.id < before)
    rows = (await session.execute(query)).all()
    page = rows[:limit]
    next_cursor = encode_cursor({"before": str(page[-1].id)}) if len(rows) > limit else None
    return PostPage(items=await _render(authors, page), next_cursor=next_cursor)


def _posts_by_ids(viewer: bool) -> Select[Any]:
    # One array parameter, not an IN list; the viewer as a parameter too, so each of the two
    # statements is built and cache-keyed once (per call, that cost more than the query).
    viewer_id = bindparam("viewer_id", type_=BigInteger) if viewer else None
    return _post_rows(viewer_id).where(
        posts.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))),
        posts.c.deleted_at.is_(None),
    )


_POSTS_BY_IDS = {viewer: _posts_by_ids(viewer) for viewer in (True, False)}


async def posts_by_ids(
    session: AsyncSession, authors: AuthorDirectory, post_ids: Sequence[int], viewer_id: int | None
) -> list[Post]:
    """Existing, undeleted posts among ``post_ids`` in the order asked (repeats dropped)."""
    wanted = list(dict.fromkeys(post_ids))
    if not wanted:
        return []
    rows = (
        await session.execute(
            _POSTS_BY_IDS[viewer_id is not None], {"ids": wanted, "viewer_id": viewer_id}
        )
    ).all()
    position = {post_id: index for index, post_id in enumerate(wanted)}
    rows.sort(key=lambda row: position[row.id])
    return await _render(authors, rows)


# Built once with bound parameters: constructing and cache-keying this LATERAL statement per
# call cost SQLAlchemy more CPU than the rebuild's other steps in this service.
_AUTHORS = (
    func.unnest(bindparam("authors", type_=ARRAY(BigInteger)))
    .table_valued("author_id")
    .render_derived(name="a")
)
_ROWS = bindparam("rows", type_=Integer)
# Top-``rows`` per author through the (author_id, id DESC) index, then merged: cost grows with
# authors × rows, never with the authors' whole history.
_RECENT_BY_AUTHOR = (
    select(posts.c.id, posts.c.author_id)
    .where(
        posts.c.author_id == _AUTHORS.c.author_id,
        posts.c.deleted_at.is_(None),
        posts.c.id <= bindparam("through", type_=BigInteger),
        posts.c.id > bindparam("after", type_=BigInteger),
    )
    .order_by(posts.c.id.desc())
    .limit(_ROWS)
    .lateral("p")
)
_POST_IDS_BY_AUTHORS = (
    select(_RECENT_BY_AUTHOR.c.id, _RECENT_BY_AUTHOR.c.author_id)
    .select_from(_AUTHORS.join(_RECENT_BY_AUTHOR, true()))
    .order_by(_RECENT_BY_AUTHOR.c.id.desc())
    .limit(_ROWS)
)
#: ``after`` when the caller sets none: ids are positive, so 0 excludes no post.
_NO_AFTER = 0


async def post_ids_by_authors(
    session: AsyncSession,
    author_ids: Sequence[int],
    *,
    before: int | None,
    after: int | None,
    limit: int,
) -> list[tuple[int, int]]:
    """``(post id, author id)`` of undeleted posts by ``author_ids`` with ``after < id <
    before``, newest first."""
    wanted = list(dict.fromkeys(author_ids))
    if not wanted or (before is not None and after is not None and before <= after + 1):
        return []
    result = await session.execute(
        _POST_IDS_BY_AUTHORS,
        {
            "authors": wanted,
            # An inclusive upper bound: without ``before`` it is MAX_ID, which an exclusive bound
            # could not name in 64 bits.
            "through": MAX_ID if before is None else before - 1,
            "after": _NO_AFTER if after is None else after,
            "rows": limit,
        },
    )
    return [(post_id, author_id) for post_id, author_id in result]


async def post_counts(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, int]:
    """Undeleted posts per user; every asked id is present (0 when none)."""
    wanted = list(dict.fromkeys(user_ids))
    counts = dict.fromkeys(wanted, 0)
    if not wanted:
        return counts
    rows = await session.execute(
        select(posts.c.author_id, func.count())
        .where(posts.c.author_id.in_(wanted), posts.c.deleted_at.is_(None))
        .group_by(posts.c.author_id)
    )
    counts.update({author_id: int(count) for author_id, count in rows})
    return counts


async def erase_author(session: AsyncSession, cache: CacheInvalidation, user_id: int) -> None:
    """After the account was deleted: every post of it deleted and every like of it removed,
    with the usual events, so timelines, caches and affinities follow. Idempotent."""
    deleted_ids = list(
        await session.scalars(
            update(posts)
            .where(posts.c.author_id == user_id, posts.c.deleted_at.is_(None))
            .values(deleted_at=func.now())
            .returning(posts.c.id)
        )
    )
    deletions = [PostDeleted(post_id=post_id, author_id=user_id) for post_id in deleted_ids]
    await add_events(session, outbox, deletions)
    cache.posts_deleted(session, deleted_ids)
    liked_ids = sorted(
        await session.scalars(
            delete(likes).where(likes.c.user_id == user_id).returning(likes.c.post_id)
        )
    )
    if not liked_ids:
        return
    counts = await session.execute(
        update(posts)
        .where(posts.c.id.in_(liked_ids))
        .values(like_count=posts.c.like_count - 1)
        .returning(posts.c.id, posts.c.author_id, posts.c.like_count)
    )
    await add_events(
        session,
        outbox,
        [
            PostUnliked(post_id=post_id, author_id=author_id, user_id=user_id, like_count=count)
            for post_id, author_id, count in counts
        ],
    )
    cache.likes_removed(session, user_id, liked_ids)
