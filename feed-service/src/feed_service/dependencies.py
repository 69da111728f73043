"""Request dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from feed_service.cursors import Ranking
from feed_service.service import Feed


async def _feed(request: Request) -> Feed:
    feed: Feed = request.app.state.feed
    return feed


FeedDep = Annotated[Feed, Depends(_feed)]
RankingParam = Annotated[
    Ranking, Query(description="chronological (newest first, default) or ranked.")
]
