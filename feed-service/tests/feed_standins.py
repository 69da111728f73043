"""An in-memory user-service and post-service, served through ``httpx.MockTransport``.

Only our own services are stood in; Redis is the real server.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from feedline_shared.ids import smallest_id_at
from feedline_shared.schemas import format_time
from feedline_shared.settings import DEFAULT_INTERNAL_TOKEN

USERS_URL = "http://users.test"
POSTS_URL = "http://posts.test"

_FOLLOWING = re.compile(r"^/internal/users/(\d+)/following-ids$")


@dataclass
class PostRow:
    id: int
    author_id: int
    created_at: datetime
    like_count: int = 0
    deleted: bool = False


class Graph:
    def __init__(self) -> None:
        self.following: dict[int, set[int]] = defaultdict(set)
        self.followers_override: dict[int, int] = {}
        self.peak_followers: dict[int, int] = {}
        self.posts: dict[int, PostRow] = {}
        self.likes: set[tuple[int, int]] = set()
        self.calls: list[tuple[str, dict[str, object]]] = []
        self.users_down = False
        self.posts_down = False
        self._last_id = 0
        # Runs after by-authors answered: lets a test create a post "during" a rebuild.
        self.after_by_authors: Callable[[dict[str, object]], None] | None = None
        # Awaited while a batch or following request is in flight, before it answers (races
        # with writers).
        self.during_batch: Callable[[], Awaitable[None]] | None = None
        self.during_following: Callable[[], Awaitable[None]] | None = None

    # --- the social graph -------------------------------------------------------------------

    def follow(self, follower: int, *followees: int) -> None:
        self.following[follower].update(followees)

    def unfollow(self, follower: int, followee: int) -> None:
        self.following[follower].discard(followee)

    def followers_count(self, user_id: int) -> int:
        if user_id in self.followers_override:
            return self.followers_override[user_id]
        return sum(1 for followees in self.following.values() if user_id in followees)

    def followers_of(self, user_id: int) -> list[int]:
        return [f for f, followees in self.following.items() if user_id in followees]

    # --- posts ---------------------------------------------------------------------------------

    def add_post(
        self, author_id: int, *, created_at: datetime | None = None, likes: int = 0
    ) -> int:
        moment = created_at or datetime.now(UTC)
        post_id = max(self._last_id + 1, smallest_id_at(moment))
        self._last_id = post_id
        self.posts[post_id] = PostRow(post_id, author_id, moment, likes)
        return post_id

    def add_posts(self, author_ids: list[int], *, hours_ago: float = 1.0) -> list[int]:
        """One post per entry, oldest first, spaced a second apart ending ``hours_ago``."""
        end = datetime.now(UTC) - timedelta(hours=hours_ago)
        n = len(author_ids)
        return [
            self.add_post(a, created_at=end - timedelta(seconds=n - i))
            for i, a in enumerate(author_ids)
        ]

    def post_json(self, row: PostRow, viewer: int | None) -> dict[str, object]:
        return {
            "id": str(row.id),
            "author": {
                "id": str(row.author_id),
                "username": f"user{row.author_id}",
                "display_name": f"User {row.author_id}",
            },
            "caption": f"post {row.id}",
            "media_url": None,
            "created_at": format_time(row.created_at),
            "like_count": row.like_count,
            "liked_by_me": (row.id, viewer) in self.likes,
        }

    def calls_to(self, name: str) -> list[dict[str, object]]:
        return [body for call, body in self.calls if call == name]

    # --- the stand-in HTTP services ---------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("X-Internal-Token") != DEFAULT_INTERNAL_TOKEN:
            return httpx.Response(401, json={"detail": "Missing or invalid internal credential"})
        host = f"{request.url.scheme}://{request.url.host}"
        if host == USERS_URL:
            if self.users_down:
                raise httpx.ConnectError("user-service is down", request=request)
            return await self._users(request)
        if host == POSTS_URL:
            if self.posts_down:
                raise httpx.ConnectError("post-service is down", request=request)
            return await self._posts(request)
        return httpx.Response(404)

    async def _users(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        match = _FOLLOWING.match(path)
        if request.method == "GET" and match:
            user_id = int(match.group(1))
            self.calls.append(("following", {"user_id": user_id}))
            items = [
                {
                    "id": str(f),
                    "followers_count": self.followers_count(f),
                    "peak_followers_count": max(
                        self.followers_count(f), self.peak_followers.get(f, 0)
                    ),
                }
                for f in sorted(self.following[user_id])
            ]
            if self.during_following is not None:
                await self.during_following()
            return httpx.Response(200, json={"items": items})
        return httpx.Response(404, json={"detail": "no such route"})

    async def _posts(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        body = orjson.loads(request.content) if request.content else {}
        if request.method == "POST" and path == "/internal/posts/by-authors":
            self.calls.append(("by-authors", body))
            assert 1 <= body["limit"] <= 1000
            authors = {int(a) for a in body["author_ids"]}
            before = int(body["before"]) if body["before"] is not None else None
            after = int(body["after"]) if body["after"] is not None else None
            rows = sorted(
                (
                    row
                    for row in self.posts.values()
                    if row.author_id in authors
                    and not row.deleted
                    and (before is None or row.id < before)
                    and (after is None or row.id > after)
                ),
                key=lambda row: row.id,
                reverse=True,
            )[: body["limit"]]
            items = [{"id": str(r.id), "author_id": str(r.author_id)} for r in rows]
            if self.after_by_authors is not None:
                self.after_by_authors(body)
            return httpx.Response(200, json={"items": items})
        if request.method == "POST" and path == "/internal/posts/batch":
            self.calls.append(("batch", body))
            assert len(body["ids"]) <= 500
            viewer = int(body["viewer_id"]) if body["viewer_id"] is not None else None
            rows = [self.posts.get(int(i)) for i in body["ids"]]
            items = [self.post_json(r, viewer) for r in rows if r is not None and not r.deleted]
            if self.during_batch is not None:
                await self.during_batch()
            return httpx.Response(200, json={"items": items})
        return httpx.Response(404, json={"detail": "no such route"})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


# --- reading the feed --------------------------------------------------------------------------


async def read_page(client: httpx.AsyncClient, **params: object) -> dict[str, object]:
    response = await client.get("/feed", params={k: v for k, v in params.items() if v is not None})
    assert response.status_code == 200, response.text
    return response.json()


def ids_of(page: dict[str, object]) -> list[int]:
    return [int(item["id"]) for item in page["items"]]  # type: ignore[index, union-attr]


async def read_all(
    client: httpx.AsyncClient, *, limit: int, ranking: str = "chronological", max_pages: int = 50
) -> tuple[list[int], int]:
    """Every id of the feed by following next_cursor, and how many pages it took."""
    ids: list[int] = []
    cursor = None
    for pages in range(1, max_pages + 1):
        page = await read_page(client, limit=limit, cursor=cursor, ranking=ranking)
        ids.extend(ids_of(page))
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, pages
    raise AssertionError("the feed did not end")


def newest_first(ids: list[int]) -> list[int]:
    return sorted(ids, reverse=True)
