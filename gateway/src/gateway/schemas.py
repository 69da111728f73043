"""Response bodies of the public contract that only the gateway declares (docs/api.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from feedline_shared.schemas import IdStr, Timestamp, User


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds until the token expires.")


class Registration(AccessToken):
    user: User


class ApiKeyCreated(BaseModel):
    id: IdStr
    name: str
    key: str = Field(description="The key itself; shown only in this answer.")
    created_at: Timestamp


class ApiKeyInfo(BaseModel):
    id: IdStr
    name: str
    created_at: Timestamp
    last_used_at: Timestamp | None


class ApiKeyList(BaseModel):
    items: list[ApiKeyInfo]


class FollowState(BaseModel):
    following: bool


class LikeState(BaseModel):
    liked: bool
    like_count: int


class FieldError(BaseModel):
    field: str
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, the body of every error answer."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(
        default=None, description="Present on validation failures (422)."
    )
