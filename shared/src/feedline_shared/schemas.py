"""The public objects more than one service returns (API contract: User, UserSummary, Post).

Ids are strings on the wire; times are RFC 3339 UTC with milliseconds and a ``Z``.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, PlainSerializer

# The builtin, not a lambda: serialisers run once per id of every page, and a builtin skips the
# Python frame.
IdStr = Annotated[int, PlainSerializer(str, return_type=str, when_used="json")]


# Feed pages show the same posts over and over: each instant's text is formatted once (~1.3 µs
# here) and then looked up (~60 ns). Equal instants format alike whatever their time zone.
@functools.lru_cache(maxsize=16_384)
def format_time(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    # A naive isoformat is C code with no offset to format, under half the cost of strftime:
    # this runs for every post of every page.
    return value.isoformat(timespec="milliseconds") + "Z"


Timestamp = Annotated[datetime, PlainSerializer(format_time, return_type=str, when_used="json")]


def _http_url(value: str) -> str:
    url = HttpUrl(value)
    if url.scheme not in ("http", "https"):
        raise ValueError("must be an http(s) URL")
    return value


def _printable(value: str) -> str:
    if any((ord(ch) < 32 and ch not in "\n\t") or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    if "\x00" in value:
        raise ValueError("must not contain NUL")
    return value


#: Free text a person typed: any Unicode but control characters (newlines and tabs allowed).
Text = Annotated[str, AfterValidator(_printable)]

#: An http(s) URL kept as the client wrote it (up to 2048 characters).
HttpUrlStr = Annotated[str, Field(max_length=2048), AfterValidator(_http_url)]


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


# Request bodies of the public contract: services validate with these, the gateway documents them.

USERNAME_PATTERN = r"^[A-Za-z0-9_.]{3,30}$"


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    username: str = Field(
        pattern=USERNAME_PATTERN, description="3-30 of a-z 0-9 _ . (case-insensitive)"
    )
    password: str = Field(min_length=8, max_length=128)
    display_name: Text | None = Field(default=None, max_length=50)
    bio: Text | None = Field(default=None, max_length=150)


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)


class AccountDeletion(BaseModel):
    """The account's password, asked again: a leaked API key or session cannot delete it."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=128)


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: Text | None = Field(default=None, max_length=50)
    bio: Text | None = Field(default=None, max_length=150)


class ApiKeyCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=100)


class PostCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    caption: Text = Field(min_length=1, max_length=2200)
    media_url: HttpUrlStr | None = None
