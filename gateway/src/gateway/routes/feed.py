"""/feed: the caller's home feed (feed-service)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from feedline_shared.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from feedline_shared.schemas import Post
from gateway.dependencies import CurrentPrincipal, ProxyDep, Ranking
from gateway.openapi import AUTHENTICATED, WITH_QUERY, problems

router = APIRouter(tags=["feed"])


@router.get("/feed", response_model=Page[Post], responses=problems(*WITH_QUERY, *AUTHENTICATED))
async def feed(
    request: Request,
    principal: CurrentPrincipal,
    proxy: ProxyDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    ranking: Ranking = "chronological",
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)
