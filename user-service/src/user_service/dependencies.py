"""Request dependencies, declared once as Annotated aliases and reused by every route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from feedline_shared.cache_invalidation import CacheInvalidation
from feedline_shared.http import ActingUser, ServiceCaller
from feedline_shared.ids import MAX_ID, IdGenerator
from feedline_shared.problems import NotFound
from user_service.passwords import Passwords
from user_service.posts import PostCounts
from user_service.settings import Settings

__all__ = [
    "ActingUser",
    "ApiKeyTouchInterval",
    "CacheDep",
    "CelebrityThreshold",
    "IdsDep",
    "KeyIdPath",
    "PasswordsDep",
    "PostCountsDep",
    "SessionDep",
    "UserIdPath",
    "require_internal_caller",
]


async def require_internal_caller(_: ServiceCaller) -> None:
    """Router-wide guard: every route but /healthz, /readyz and /metrics needs the credential."""


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.session_scope() as session:
        yield session


async def _passwords(request: Request) -> Passwords:
    return request.app.state.passwords


async def _ids(request: Request) -> IdGenerator:
    return request.app.state.ids


async def _cache(request: Request) -> CacheInvalidation:
    return request.app.state.cache_invalidation


async def _post_counts(request: Request) -> PostCounts:
    return request.app.state.post_counts


async def _api_key_touch_interval(request: Request) -> timedelta:
    settings: Settings = request.app.state.settings
    return timedelta(seconds=settings.api_key_touch_interval_seconds)


async def _celebrity_threshold(request: Request) -> int:
    settings: Settings = request.app.state.settings
    return settings.celebrity_follower_threshold


def parse_id(raw: str, what: str) -> int:
    """A positive 64-bit id from a path; anything else names nothing, so it is a 404."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise NotFound(f"{what} not found")
    value = int(raw)
    if not 0 < value <= MAX_ID:
        raise NotFound(f"{what} not found")
    return value


async def _user_id_path(user_id: str) -> int:
    return parse_id(user_id, "User")


async def _key_id_path(key_id: str) -> int:
    return parse_id(key_id, "API key")


#: The request's transaction. scope="function" commits before the response is sent, so a commit
#: that fails is answered as an error, never as a 2xx.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
PasswordsDep = Annotated[Passwords, Depends(_passwords)]
IdsDep = Annotated[IdGenerator, Depends(_ids)]
CacheDep = Annotated[CacheInvalidation, Depends(_cache)]
PostCountsDep = Annotated[PostCounts, Depends(_post_counts)]
ApiKeyTouchInterval = Annotated[timedelta, Depends(_api_key_touch_interval)]
CelebrityThreshold = Annotated[int, Depends(_celebrity_threshold)]
UserIdPath = Annotated[int, Depends(_user_id_path)]
KeyIdPath = Annotated[int, Depends(_key_id_path)]
