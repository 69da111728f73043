"""Request and response bodies of user-service that are not shared contract objects."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from feedline_shared.clients import USER_BATCH_MAX
from feedline_shared.schemas import IdStr, Timestamp, UserSummary

#: A positive 64-bit id as it arrives in a body (a JSON string or number).
BodyId = Annotated[int, Field(gt=0, lt=1 << 63)]

FOLLOWER_IDS_MAX = 5000
FOLLOWER_IDS_DEFAULT = 1000


class FollowState(BaseModel):
    following: bool


class ApiKeyCreated(BaseModel):
    id: IdStr
    name: str
    key: str
    created_at: Timestamp


class ApiKeyInfo(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: IdStr
    name: str
    created_at: Timestamp
    last_used_at: Timestamp | None


class ApiKeyList(BaseModel):
    items: list[ApiKeyInfo]


class ApiKeyVerifyRequest(BaseModel):
    key: str = Field(min_length=1, max_length=256)


class ApiKeyIdentity(BaseModel):
    user_id: IdStr
    key_id: IdStr


class UserBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[BodyId] = Field(max_length=USER_BATCH_MAX)


class UserWithFollowers(UserSummary):
    followers_count: int


class UserBatch(BaseModel):
    items: list[UserWithFollowers]


class IdPage(BaseModel):
    items: list[IdStr]
    next_cursor: str | None
    #: All of the account's followers, not this page's: fan-out decides from it whether to write.
    followers_count: int


class Followee(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: IdStr
    followers_count: int
    peak_followers_count: int


class FolloweeList(BaseModel):
    items: list[Followee]


class ActiveState(BaseModel):
    active: bool
