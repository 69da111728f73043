"""Typed clients for the internal routes of user-service and post-service (docs/architecture.md).

Each wraps the process's one pooled ``httpx.AsyncClient``; failures surface as problems
(``DependencyUnavailable`` when the other service is down, its own 4xx otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx
import orjson
from pydantic import BaseModel

from feedline_shared.http import call_service, user_headers
from feedline_shared.schemas import Post, UserSummary

USER_BATCH_MAX = 1000
POST_BATCH_MAX = 500


@dataclass(frozen=True, slots=True)
class Followee:
    id: int
    followers_count: int
    #: The most followers the account ever had: readers merge any author that was ever a
    #: celebrity at read time, since some of their posts were not fanned out.
    peak_followers_count: int


@dataclass(frozen=True, slots=True)
class FollowerPage:
    ids: list[int]
    next_cursor: str | None
    #: All of the account's followers; None from a user-service that does not send it yet.
    followers_count: int | None


@dataclass(frozen=True, slots=True)
class PostRef:
    id: int
    author_id: int


class PostBatch(BaseModel):
    items: list[Post]


class UserServiceClient:
    name = "user-service"

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    async def _batch(self, user_ids: Sequence[int]) -> list[dict[str, object]]:
        items: list[dict[str, object]] = []
        unique = list(dict.fromkeys(user_ids))
        for start in range(0, len(unique), USER_BATCH_MAX):
            chunk = unique[start : start + USER_BATCH_MAX]
            response = await call_service(
                self.http,
                self.name,
                "POST",
                f"{self.base_url}/internal/users/batch",
                json={"ids": [str(u) for u in chunk]},
            )
            items.extend(orjson.loads(response.content)["items"])
        return items

    async def users_by_id(self, user_ids: Sequence[int]) -> dict[int, UserSummary]:
        summaries = (UserSummary.model_validate(item) for item in await self._batch(user_ids))
        return {summary.id: summary for summary in summaries}

    async def follower_counts(self, user_ids: Sequence[int]) -> dict[int, int]:
        return {
            int(item["id"]): int(item["followers_count"])  # type: ignore[call-overload]
            for item in await self._batch(user_ids)
        }

    async def follower_page(
        self,
        user_id: int,
        *,
        cursor: str | None,
        limit: int = 1000,
        max_followers: int | None = None,
    ) -> FollowerPage:
        """A page of ``user_id``'s follower ids; empty, with the count, past ``max_followers``."""
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        if max_followers is not None:
            params["max_followers"] = max_followers
        response = await call_service(
            self.http,
            self.name,
            "GET",
            f"{self.base_url}/internal/users/{user_id}/follower-ids",
            params=params,
        )
        body = orjson.loads(response.content)
        count = body.get("followers_count")
        return FollowerPage(
            [int(i) for i in body["items"]],
            body["next_cursor"],
            int(count) if count is not None else None,
        )

    async def following(self, user_id: int) -> list[Followee]:
        response = await call_service(
            self.http, self.name, "GET", f"{self.base_url}/internal/users/{user_id}/following-ids"
        )
        return [
            Followee(
                int(item["id"]),
                int(item["followers_count"]),
                int(item.get("peak_followers_count", item["followers_count"])),
            )
            for item in orjson.loads(response.content)["items"]
        ]

    async def user_id_by_username(self, username: str) -> int:
        response = await call_service(
            self.http, self.name, "GET", f"{self.base_url}/internal/users/by-username/{username}"
        )
        return int(response.json()["id"])


class PostServiceClient:
    name = "post-service"

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    async def posts_by_id(self, post_ids: Sequence[int], viewer_id: int | None) -> list[Post]:
        """Existing, undeleted posts among ``post_ids``, in the order asked."""
        posts: list[Post] = []
        for start in range(0, len(post_ids), POST_BATCH_MAX):
            chunk = post_ids[start : start + POST_BATCH_MAX]
            response = await call_service(
                self.http,
                self.name,
                "POST",
                f"{self.base_url}/internal/posts/batch",
                json={
                    "ids": [str(p) for p in chunk],
                    "viewer_id": None if viewer_id is None else str(viewer_id),
                },
            )
            # Parsed and validated in one pass by pydantic-core, straight from the bytes.
            posts.extend(PostBatch.model_validate_json(response.content).items)
        return posts

    async def posts_by_authors(
        self,
        author_ids: Sequence[int],
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int,
        primary: bool = False,
    ) -> list[PostRef]:
        """Newest-first ids of undeleted posts by ``author_ids`` with ``after < id < before``.

        ``primary`` reads past any replica lag, for reads that must see the latest commits.
        """
        if not author_ids:
            return []
        response = await call_service(
            self.http,
            self.name,
            "POST",
            f"{self.base_url}/internal/posts/by-authors",
            json={
                "author_ids": [str(a) for a in author_ids],
                "before": None if before is None else str(before),
                "after": None if after is None else str(after),
                "limit": limit,
                "primary": primary,
            },
        )
        items = orjson.loads(response.content)["items"]
        return [PostRef(int(i["id"]), int(i["author_id"])) for i in items]

    async def erase_author(self, user_id: int) -> None:
        """Deletes every post and like of a deleted account (idempotent)."""
        await call_service(
            self.http, self.name, "POST", f"{self.base_url}/internal/users/{user_id}/erase"
        )

    async def post_counts(self, user_ids: Sequence[int]) -> dict[int, int]:
        response = await call_service(
            self.http,
            self.name,
            "GET",
            f"{self.base_url}/internal/post-counts",
            params={"user_ids": ",".join(str(u) for u in user_ids)},
        )
        return {int(k): int(v) for k, v in response.json()["counts"].items()}


__all__ = [
    "Followee",
    "FollowerPage",
    "PostRef",
    "PostServiceClient",
    "UserServiceClient",
    "user_headers",
]
