"""Request dependencies, declared once as Annotated aliases and reused by every route."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from feedline_shared.cache_invalidation import CacheInvalidation
from feedline_shared.db import Database
from feedline_shared.http import internal_token_of
from feedline_shared.ids import MAX_ID, IdGenerator
from feedline_shared.problems import NotFound, ValidationFailed
from post_service.authors import AuthorDirectory
from post_service.schemas import IDEMPOTENCY_KEY_PATTERN, POST_COUNTS_MAX_IDS

_POSITIVE_INT = re.compile(r"[1-9][0-9]{0,18}")
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


async def require_internal_credential(request: Request) -> None:
    """Router-wide: no route answers without the shared service credential."""
    internal_token_of(request).verify(request)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """The shared request session (commit on success, rollback on error); the Database lives
    on app.state because the lifespan creates it, hence this thin adapter."""
    database: Database = request.app.state.database
    async with asynccontextmanager(database.session)() as session:
        yield session


async def _replica_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async with asynccontextmanager(database.read_session)() as session:
        yield session


async def _authors(request: Request) -> AuthorDirectory:
    return request.app.state.authors  # type: ignore[no-any-return]


async def _cache(request: Request) -> CacheInvalidation:
    return request.app.state.cache_invalidation  # type: ignore[no-any-return]


async def _ids(request: Request) -> IdGenerator:
    return request.app.state.ids  # type: ignore[no-any-return]


def _positive_id(value: str, what: str) -> int:
    """A path id that is not a positive 64-bit integer names nothing: 404, not 422."""
    if not _POSITIVE_INT.fullmatch(value) or int(value) > MAX_ID:
        raise NotFound(f"{what} not found")
    return int(value)


async def valid_post_id(post_id: Annotated[str, Path()]) -> int:
    return _positive_id(post_id, "Post")


async def valid_user_id(user_id: Annotated[str, Path()]) -> int:
    return _positive_id(user_id, "User")


async def idempotency_key_header(
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> str | None:
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationFailed(
            "Idempotency-Key must be 1 to 200 printable ASCII characters",
            field="Idempotency-Key",
        )
    return key


async def user_ids_query(
    user_ids: Annotated[str, Query(max_length=POST_COUNTS_MAX_IDS * 20)] = "",
) -> list[int]:
    """``user_ids=1,2,3`` as integers (at most POST_COUNTS_MAX_IDS)."""
    parts = [part for part in user_ids.split(",") if part.strip()]
    if len(parts) > POST_COUNTS_MAX_IDS:
        raise ValidationFailed(f"at most {POST_COUNTS_MAX_IDS} user ids", field="user_ids")
    if not all(_POSITIVE_INT.fullmatch(part.strip()) for part in parts) or any(
        int(part) > MAX_ID for part in parts
    ):
        raise ValidationFailed(
            "user_ids must be comma-separated positive 64-bit integers", field="user_ids"
        )
    return [int(part) for part in parts]


#: The primary database; commits once when the route returns, before the response is sent.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
#: Reads that tolerate replica lag (lists, counts); the primary when no replica is configured.
ReplicaSessionDep = Annotated[AsyncSession, Depends(_replica_session, scope="function")]
AuthorsDep = Annotated[AuthorDirectory, Depends(_authors)]
IdsDep = Annotated[IdGenerator, Depends(_ids)]
CacheDep = Annotated[CacheInvalidation, Depends(_cache)]
PostId = Annotated[int, Depends(valid_post_id)]
UserIdPath = Annotated[int, Depends(valid_user_id)]
UserIds = Annotated[list[int], Depends(user_ids_query)]
#: Optional ``Idempotency-Key`` header: 1..200 printable ASCII characters, else 422.
IdempotencyKey = Annotated[str | None, Depends(idempotency_key_header)]
