"""``GET /feed``: the caller's home feed."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from feed_service.cursors import Ranking
from feed_service.dependencies import FeedDep, RankingParam
from feed_service.service import read_feed
from feedline_shared.http import ActingUser
from feedline_shared.pagination import DEFAULT_LIMIT, Cursor, Limit

router = APIRouter(tags=["feed"])


@router.get("/feed")
async def get_feed(
    user_id: ActingUser,
    feed: FeedDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    ranking: RankingParam = Ranking.chronological,
) -> Response:
    page = await read_feed(feed, user_id, limit=limit, cursor=cursor, ranking=ranking)
    # Serialised once by pydantic-core, not re-encoded through FastAPI's jsonable_encoder.
    return Response(page.model_dump_json().encode(), media_type="application/json")
