"""Service-to-service routes (never forwarded by the gateway): batch lookups and counts."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, status
from starlette.responses import Response

from post_service import service
from post_service.dependencies import (
    AuthorsDep,
    CacheDep,
    ReplicaSessionDep,
    SessionDep,
    UserIdPath,
    UserIds,
    require_internal_credential,
)
from post_service.schemas import (
    PostBatch,
    PostBatchRequest,
    PostCounts,
    PostRefs,
    PostsByAuthorsRequest,
)

router = APIRouter(
    prefix="/internal", dependencies=[Depends(require_internal_credential)], tags=["internal"]
)


@router.post("/posts/batch")
async def posts_batch(
    body: PostBatchRequest, session: SessionDep, authors: AuthorsDep
) -> PostBatch:
    # The primary, not a replica: fan-out asks for posts created a moment ago.
    items = await service.posts_by_ids(session, authors, body.ids, body.viewer_id)
    return PostBatch(items=items)


@router.post("/posts/by-authors", response_model=PostRefs)
async def posts_by_authors(
    body: PostsByAuthorsRequest, primary: SessionDep, replica: ReplicaSessionDep
) -> Response:
    # Sessions connect lazily: only the one used here takes a connection.
    session = primary if body.primary else replica
    refs = await service.post_ids_by_authors(
        session, body.author_ids, before=body.before, after=body.after, limit=body.limit
    )
    # Up to thousands of refs per call (timeline rebuilds): encoded once, no model per item.
    items = [{"id": str(post_id), "author_id": str(author)} for post_id, author in refs]
    return Response(orjson.dumps({"items": items}), media_type="application/json")


@router.get("/post-counts")
async def post_counts(user_ids: UserIds, session: ReplicaSessionDep) -> PostCounts:
    counts = await service.post_counts(session, user_ids)
    return PostCounts(counts={str(user_id): count for user_id, count in counts.items()})


@router.post("/users/{user_id}/erase", status_code=status.HTTP_204_NO_CONTENT)
async def erase_user(user_id: UserIdPath, session: SessionDep, cache: CacheDep) -> Response:
    """A deleted account's posts and likes go (the fanout worker calls this on user.deleted)."""
    await service.erase_author(session, cache, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
