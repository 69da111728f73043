"""API keys for apps and bots: shown once at creation, stored only as a sha256 digest."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from feedline_shared.ids import IdGenerator
from feedline_shared.problems import NotFound, Unauthorized
from user_service.models import ApiKey
from user_service.service import get_acting_user

KEY_PREFIX = "fl_"
INVALID_KEY = "Invalid API key"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create(
    session: AsyncSession, ids: IdGenerator, user_id: int, name: str
) -> tuple[ApiKey, str]:
    """A new key for ``user_id``; returns the row and the key, which is never stored."""
    await get_acting_user(session, user_id, hold=True)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(id=ids.next_id(), user_id=user_id, name=name, key_hash=digest(key))
    session.add(api_key)
    await session.flush()
    return api_key, key


async def list_active(session: AsyncSession, user_id: int) -> list[ApiKey]:
    """The caller's keys that still work, newest first."""
    keys = await session.scalars(
        select(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.id.desc())
    )
    return list(keys)


async def revoke(session: AsyncSession, user_id: int, key_id: int) -> None:
    """Revokes the caller's key at once; revoking it again is a no-op, another's key a 404."""
    revoked = await session.scalar(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.user_id == user_id)
        .values(revoked_at=func.coalesce(ApiKey.revoked_at, func.now()))
        .returning(ApiKey.id)
    )
    if revoked is None:
        raise NotFound("API key not found")


async def verify(session: AsyncSession, key: str, touch_interval: timedelta) -> ApiKey:
    """The live key matching ``key``, or 401; records last use at most once per interval."""
    if not key.startswith(KEY_PREFIX):
        raise Unauthorized(INVALID_KEY)
    api_key = await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == digest(key), ApiKey.revoked_at.is_(None))
    )
    if api_key is None:
        raise Unauthorized(INVALID_KEY)
    now = datetime.now(UTC)
    if api_key.last_used_at is None or now - api_key.last_used_at >= touch_interval:
        api_key.last_used_at = now
    return api_key
