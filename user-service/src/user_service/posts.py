"""posts_count from post-service: a best-effort extra that never fails a profile read."""

from __future__ import annotations

import asyncio
import logging

import httpx

from feedline_shared.clients import PostServiceClient
from feedline_shared.problems import Problem

logger = logging.getLogger(__name__)


class PostCounts:
    def __init__(self, client: PostServiceClient, timeout_seconds: float) -> None:
        self.client = client
        self.timeout_seconds = timeout_seconds

    async def of(self, user_id: int) -> int | None:
        """The user's post count, or None when post-service does not answer in time."""
        try:
            async with asyncio.timeout(self.timeout_seconds):
                counts = await self.client.post_counts([user_id])
        except (Problem, TimeoutError, httpx.HTTPError) as exc:
            logger.warning("posts_count unavailable: %s", exc)
            return None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("post-service answered an unexpected body: %s", exc)
            return None
        return counts.get(user_id, 0)
