"""Query parameters and response shape of every paged list: ``limit``, ``cursor``, items."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1..100).")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="Opaque cursor from the previous page's next_cursor."),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
