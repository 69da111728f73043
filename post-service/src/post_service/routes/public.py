"""Routes the gateway forwards (public paths without /api/v1): translate HTTP ⇄ service calls."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from feedline_shared.http import ActingUser, OptionalActingUser
from feedline_shared.pagination import Cursor, Limit
from feedline_shared.schemas import Post, PostCreateRequest
from post_service import service
from post_service.dependencies import (
    AuthorsDep,
    CacheDep,
    IdempotencyKey,
    IdsDep,
    PostId,
    ReplicaSessionDep,
    SessionDep,
    require_internal_credential,
)
from post_service.schemas import LikeState, PostPage

router = APIRouter(dependencies=[Depends(require_internal_credential)], tags=["posts"])


@router.post("/posts", status_code=status.HTTP_201_CREATED)
async def create_post(
    body: PostCreateRequest,
    user_id: ActingUser,
    session: SessionDep,
    authors: AuthorsDep,
    ids: IdsDep,
    idempotency_key: IdempotencyKey,
) -> Post:
    return await service.create_post(
        session,
        authors,
        ids,
        author_id=user_id,
        request=body,
        idempotency_key=idempotency_key,
    )


@router.get("/posts/{post_id}")
async def get_post(
    post_id: PostId, viewer_id: OptionalActingUser, session: SessionDep, authors: AuthorsDep
) -> Post:
    return await service.get_post(session, authors, post_id, viewer_id)


@router.delete("/posts/{post_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_post(
    post_id: PostId, user_id: ActingUser, session: SessionDep, cache: CacheDep
) -> Response:
    await service.delete_post(session, cache, post_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/posts/{post_id}/like")
async def like_post(
    post_id: PostId, user_id: ActingUser, session: SessionDep, cache: CacheDep, authors: AuthorsDep
) -> LikeState:
    return await service.like_post(session, cache, authors, post_id, user_id)


@router.delete("/posts/{post_id}/like")
async def unlike_post(
    post_id: PostId, user_id: ActingUser, session: SessionDep, cache: CacheDep
) -> LikeState:
    return await service.unlike_post(session, cache, post_id, user_id)


@router.get("/users/{username}/posts")
async def list_user_posts(
    username: str,
    viewer_id: OptionalActingUser,
    session: ReplicaSessionDep,
    authors: AuthorsDep,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> PostPage:
    return await service.list_user_posts(
        session, authors, username=username, viewer_id=viewer_id, limit=limit, cursor=cursor
    )
