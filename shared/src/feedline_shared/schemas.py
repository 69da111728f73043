"""The public objects more than one service returns (API contract: User, UserSummary, Post).

Ids are strings on the wire; times are RFC 3339 UTC with milliseconds and a ``Z``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer

IdStr = Annotated[int, PlainSerializer(lambda v: str(v), return_type=str, when_used="json")]


def format_time(value: datetime) -> str:
    moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


Timestamp = Annotated[datetime, PlainSerializer(format_time, return_type=str, when_used="json")]


class UserSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: IdStr
    username: str
    display_name: str


class User(UserSummary):
    bio: str
    created_at: Timestamp
    followers_count: int
    following_count: int
    posts_count: int | None


class Post(BaseModel):
    id: IdStr
    author: UserSummary
    caption: str
    media_url: str | None
    created_at: Timestamp
    like_count: int
    liked_by_me: bool
