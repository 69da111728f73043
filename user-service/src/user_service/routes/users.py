"""Profile and follow routes the gateway forwards (public paths without /api/v1)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from feedline_shared.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from feedline_shared.schemas import AccountDeletion, ProfileUpdate, User, UserSummary
from user_service import follows, service
from user_service.dependencies import (
    ActingUser,
    CacheDep,
    CelebrityThreshold,
    IdsDep,
    PasswordsDep,
    PostCountsDep,
    SessionDep,
    require_internal_caller,
)
from user_service.schemas import FollowState
from user_service.views import user_out

router = APIRouter(prefix="/users", dependencies=[Depends(require_internal_caller)])


# Declared before /users/{username}, which would otherwise take "me" for a username.
@router.get("/me")
async def read_me(user_id: ActingUser, session: SessionDep, posts: PostCountsDep) -> User:
    user = await service.get_acting_user(session, user_id)
    return user_out(user, await posts.of(user.id))


@router.patch("/me")
async def update_me(
    body: ProfileUpdate,
    user_id: ActingUser,
    session: SessionDep,
    cache: CacheDep,
    posts: PostCountsDep,
) -> User:
    user = await service.update_profile(session, cache, user_id, body)
    return user_out(user, await posts.of(user.id))


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(
    body: AccountDeletion,
    user_id: ActingUser,
    session: SessionDep,
    cache: CacheDep,
    passwords: PasswordsDep,
) -> Response:
    await service.delete_account(session, cache, passwords, user_id, body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{username}")
async def read_user(username: str, session: SessionDep, posts: PostCountsDep) -> User:
    user = await service.get_by_username(session, username)
    return user_out(user, await posts.of(user.id))


@router.post("/{username}/follow")
async def follow(
    username: str,
    user_id: ActingUser,
    session: SessionDep,
    cache: CacheDep,
    ids: IdsDep,
    celebrity_threshold: CelebrityThreshold,
) -> FollowState:
    await follows.follow(
        session, cache, ids, user_id, username, celebrity_threshold=celebrity_threshold
    )
    return FollowState(following=True)


@router.delete("/{username}/follow")
async def unfollow(
    username: str, user_id: ActingUser, session: SessionDep, cache: CacheDep
) -> FollowState:
    await follows.unfollow(session, cache, user_id, username)
    return FollowState(following=False)


@router.get("/{username}/followers")
async def followers(
    username: str, session: SessionDep, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Page[UserSummary]:
    return await follows.follow_page(session, username, "followers", limit, cursor)


@router.get("/{username}/following")
async def following(
    username: str, session: SessionDep, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Page[UserSummary]:
    return await follows.follow_page(session, username, "following", limit, cursor)
