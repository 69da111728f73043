"""Accounts and profiles: registration, login, profile reads and updates.

Functions take the request's session and never commit; the request dependency commits once.
"""

from __future__ import annotations

import re

from sqlalchemy import ARRAY, BigInteger, any_, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from feedline_shared.cache_invalidation import CacheInvalidation
from feedline_shared.events import UserDeleted, UserUpdated
from feedline_shared.ids import IdGenerator
from feedline_shared.outbox import add_event
from feedline_shared.problems import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from feedline_shared.schemas import (
    USERNAME_PATTERN,
    AccountDeletion,
    LoginRequest,
    ProfileUpdate,
    RegisterRequest,
)
from user_service.models import Follow, User, outbox, utcnow
from user_service.passwords import Passwords
from user_service.schemas import UserWithFollowers

INVALID_CREDENTIALS = "Invalid username or password"
ACTING_USER_GONE = "The account behind these credentials no longer exists"
_USERNAME = re.compile(USERNAME_PATTERN)


def fold_username(username: str) -> str:
    """Usernames are unique and looked up case-insensitively: they are stored lowercase."""
    return username.lower()


def _display_name(value: str) -> str:
    if not value.strip():
        raise ValidationFailed("display_name must not be blank", field="display_name")
    return value


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("User not found")
    return user


#: Key of the transaction-scoped advisory lock that serialises account deletions.
ACCOUNT_DELETION_LOCK = 0x66656564_64656C  # "feed" "del"


async def get_acting_user(
    session: AsyncSession, user_id: int, *, hold: bool = False, change: bool = False
) -> User:
    """The caller's own account; a deleted one makes its credentials invalid (401), not a 404.

    ``hold`` keeps the account from being deleted until the transaction ends (a key-share lock,
    for a row that will refer to it); ``change`` locks it for an update of its own fields. Either
    way a concurrent deletion finishes first (then 401) or waits for this transaction.
    """
    lock = {"read": True, "key_share": True} if hold else {"key_share": True} if change else None
    user = await session.get(User, user_id, with_for_update=lock)
    if user is None:
        raise Unauthorized(ACTING_USER_GONE)
    return user


async def find_by_username(session: AsyncSession, username: str) -> User | None:
    if not _USERNAME.fullmatch(username):
        return None
    return await session.scalar(select(User).where(User.username == fold_username(username)))


async def get_by_username(session: AsyncSession, username: str) -> User:
    user = await find_by_username(session, username)
    if user is None:
        raise NotFound(f"No user named {username!r}")
    return user


# Built once, the ids bound as one array: post-service's author lookups (every hydration miss)
# would otherwise build and cache-key a statement per call.
_SUMMARIES_BY_ID = select(User.id, User.username, User.display_name, User.followers_count).where(
    User.id == any_(bindparam("ids", type_=ARRAY(BigInteger)))
)


async def summaries_by_id(session: AsyncSession, user_ids: list[int]) -> list[UserWithFollowers]:
    """Existing accounts among ``user_ids``; unknown ids are left out."""
    if not user_ids:
        return []
    rows = await session.execute(_SUMMARIES_BY_ID, {"ids": list(set(user_ids))})
    return [UserWithFollowers.model_validate(row) for row in rows]


async def register(
    session: AsyncSession, passwords: Passwords, ids: IdGenerator, request: RegisterRequest
) -> User:
    """Creates the account; 409 when the username is taken in any letter case."""
    display_name = (
        request.username if request.display_name is None else _display_name(request.display_name)
    )
    password_hash = await passwords.hash(request.password)
    # ON CONFLICT instead of catching IntegrityError: the transaction stays usable and a race
    # between two registrations of one name ends in exactly one 201 and one 409.
    statement = (
        insert(User)
        .values(
            id=ids.next_id(),
            username=fold_username(request.username),
            display_name=display_name,
            bio=request.bio or "",
            password_hash=password_hash,
        )
        .on_conflict_do_nothing(index_elements=[User.username])
        .returning(User)
    )
    user = await session.scalar(statement)
    if user is None:
        raise Conflict(f"Username {request.username!r} is already taken")
    return user


async def authenticate(session: AsyncSession, passwords: Passwords, request: LoginRequest) -> User:
    """The account for these credentials; one 401 for an unknown user and a wrong password."""
    user = await find_by_username(session, request.username)
    if not await passwords.verify(user.password_hash if user else None, request.password):
        raise Unauthorized(INVALID_CREDENTIALS)
    assert user is not None  # verify() is False without a stored hash
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash(request.password)
    return user


async def update_profile(
    session: AsyncSession, cache: CacheInvalidation, user_id: int, changes: ProfileUpdate
) -> User:
    """Applies the given fields; an effective change writes ``user.updated`` with it."""
    user = await get_acting_user(session, user_id, change=True)
    changed = False
    if changes.display_name is not None:
        display_name = _display_name(changes.display_name)
        changed |= display_name != user.display_name
        user.display_name = display_name
    if changes.bio is not None:
        changed |= changes.bio != user.bio
        user.bio = changes.bio
    if changed:
        user.updated_at = utcnow()
        await add_event(session, outbox, UserUpdated(user_id=user.id))
        cache.profile_changed(session, user.id)
    return user


async def delete_account(
    session: AsyncSession,
    cache: CacheInvalidation,
    passwords: Passwords,
    user_id: int,
    request: AccountDeletion,
) -> None:
    """Deletes the account with its follows (both ways) and API keys, in one transaction.

    ``user.deleted`` goes out with it: post-service erases the account's posts and likes on that
    event. After the commit the account's session tokens are refused at the gateway.
    """
    user = await get_acting_user(session, user_id)
    if not await passwords.verify(user.password_hash, request.password):
        raise Forbidden("The password does not match; the account was not deleted")
    # One deletion at a time: two related accounts deleted at once would each hold its own row
    # and wait for the other's. Deletions are rare; nothing else takes this lock.
    await session.execute(select(func.pg_advisory_xact_lock(ACCOUNT_DELETION_LOCK)))
    locked = await session.scalar(select(User.id).where(User.id == user_id).with_for_update())
    if locked is None:
        raise Unauthorized(ACTING_USER_GONE)
    follower_ids = list(
        await session.scalars(select(Follow.follower_id).where(Follow.followee_id == user_id))
    )
    followee_ids = list(
        await session.scalars(select(Follow.followee_id).where(Follow.follower_id == user_id))
    )
    # The other side's counters move with the follows that go (row locks taken in id order,
    # as a follow takes them). No-key locks: a follow in flight holds key-share locks on both
    # its accounts, which these do not wait for, so the two cannot deadlock.
    others = sorted({*follower_ids, *followee_ids})
    if others:
        await session.execute(
            select(User.id)
            .where(User.id.in_(others))
            .order_by(User.id)
            .with_for_update(key_share=True)
        )
    if follower_ids:
        await session.execute(
            update(User)
            .where(User.id.in_(follower_ids))
            .values(following_count=User.following_count - 1)
        )
    if followee_ids:
        await session.execute(
            update(User)
            .where(User.id.in_(followee_ids))
            .values(followers_count=User.followers_count - 1)
        )
    # Follows and API keys go with the row (ON DELETE CASCADE).
    await session.execute(delete(User).where(User.id == user_id))
    await add_event(session, outbox, UserDeleted(user_id=user_id))
    cache.account_deleted(session, user_id, follower_ids)
