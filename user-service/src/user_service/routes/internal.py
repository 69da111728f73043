"""Lookups other services make: batches, ids of the follow graph, existence."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from feedline_shared.pagination import Cursor
from feedline_shared.schemas import User
from user_service import follows, service
from user_service.dependencies import SessionDep, UserIdPath, require_internal_caller
from user_service.schemas import (
    FOLLOWER_IDS_DEFAULT,
    FOLLOWER_IDS_MAX,
    ActiveState,
    FolloweeList,
    IdPage,
    UserBatch,
    UserBatchRequest,
)
from user_service.views import user_out

router = APIRouter(prefix="/internal/users", dependencies=[Depends(require_internal_caller)])

FollowerIdsLimit = Annotated[int, Query(ge=1, le=FOLLOWER_IDS_MAX)]
#: Past this many followers the page comes back empty, with the count (fan-out's celebrity cut).
MaxFollowers = Annotated[int | None, Query(ge=0)]


@router.post("/batch")
async def users_batch(body: UserBatchRequest, session: SessionDep) -> UserBatch:
    return UserBatch(items=await service.summaries_by_id(session, body.ids))


@router.get("/by-username/{username}")
async def user_by_username(username: str, session: SessionDep) -> User:
    user = await service.get_by_username(session, username)
    # Other services call this to resolve an id; asking post-service back for posts_count would
    # make post-service → user-service → post-service call chains, so it is left null here.
    return user_out(user, None)


@router.get("/{user_id}/follower-ids")
async def follower_ids(
    user_id: UserIdPath,
    session: SessionDep,
    limit: FollowerIdsLimit = FOLLOWER_IDS_DEFAULT,
    cursor: Cursor = None,
    max_followers: MaxFollowers = None,
) -> IdPage:
    ids, next_cursor, count = await follows.follower_ids(
        session, user_id, limit, cursor, max_followers
    )
    return IdPage(items=ids, next_cursor=next_cursor, followers_count=count)


@router.get("/{user_id}/following-ids")
async def following_ids(user_id: UserIdPath, session: SessionDep) -> FolloweeList:
    return FolloweeList(items=await follows.followees(session, user_id))


@router.get("/{user_id}/active")
async def user_active(user_id: UserIdPath, session: SessionDep) -> ActiveState:
    await service.get_user(session, user_id)
    return ActiveState(active=True)
