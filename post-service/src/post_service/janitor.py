"""Forgetting Idempotency-Key records once a client can no longer be retrying with them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from post_service.models import idempotency_keys

logger = logging.getLogger(__name__)


async def purge_idempotency_keys(engine: AsyncEngine, max_age: timedelta) -> int:
    """Deletes key records older than ``max_age``; a retry after that creates a new post."""
    cutoff = datetime.now(UTC) - max_age
    async with engine.begin() as conn:
        result = await conn.execute(
            delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff)
        )
    return result.rowcount or 0


class IdempotencyKeyJanitor:
    """Runs the purge every ``interval`` in the background; failures wait for the next round."""

    def __init__(self, engine: AsyncEngine, *, max_age: timedelta, interval: timedelta) -> None:
        self.engine = engine
        self.max_age = max_age
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="idempotency-key-janitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                purged = await purge_idempotency_keys(self.engine, self.max_age)
                if purged:
                    logger.info("idempotency keys purged", extra={"purged": purged})
            except Exception as exc:  # noqa: BLE001 - the database may be down; try next round
                logger.warning("idempotency key purge failed: %s", exc)
            await asyncio.sleep(self.interval.total_seconds())
