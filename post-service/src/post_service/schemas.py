"""Request and response bodies of post-service beyond the shared contract objects."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from feedline_shared.ids import MAX_ID
from feedline_shared.schemas import IdStr, Post

#: An id arriving in a body: a JSON string (or number) holding a positive 64-bit integer.
IdIn = Annotated[int, Field(ge=1, le=MAX_ID)]

BATCH_MAX_IDS = 500
BY_AUTHORS_MAX_AUTHORS = 10_000
BY_AUTHORS_MAX_LIMIT = 1000
POST_COUNTS_MAX_IDS = 1000
IDEMPOTENCY_KEY_PATTERN = r"[\x20-\x7e]{1,200}"


class LikeState(BaseModel):
    liked: bool
    like_count: int


class PostPage(BaseModel):
    items: list[Post]
    next_cursor: str | None


class PostBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[IdIn] = Field(max_length=BATCH_MAX_IDS)
    viewer_id: IdIn | None = None


class PostBatch(BaseModel):
    items: list[Post]


class PostsByAuthorsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    author_ids: list[IdIn] = Field(max_length=BY_AUTHORS_MAX_AUTHORS)
    before: IdIn | None = Field(default=None, description="Exclusive upper bound on post ids.")
    after: IdIn | None = Field(default=None, description="Exclusive lower bound on post ids.")
    limit: int = Field(default=100, ge=1, le=BY_AUTHORS_MAX_LIMIT)
    primary: bool = Field(
        default=False,
        description="Read from the primary, not a replica: for reads that must see the latest "
        "commits (a timeline rebuild's catch-up).",
    )


class PostRefOut(BaseModel):
    id: IdStr
    author_id: IdStr


class PostRefs(BaseModel):
    items: list[PostRefOut]


class PostCounts(BaseModel):
    counts: dict[str, int]
