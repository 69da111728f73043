"""Helpers shared by post-service tests (a unique module name: test trees share sys.path)."""

from __future__ import annotations

import itertools
import re

import httpx
from sqlalchemy import text

from feedline_shared.db import Database
from feedline_shared.schemas import UserSummary


class FakeUserService:
    """Stands in for user-service's internal routes that post-service calls."""

    def __init__(self, internal_token: str) -> None:
        self.internal_token = internal_token
        self.users: dict[int, UserSummary] = {}
        self.batch_calls = 0
        self.down = False
        self._ids = itertools.count(1001)

    def add(self, username: str | None = None) -> UserSummary:
        user_id = next(self._ids)
        user = UserSummary(
            id=user_id, username=username or f"user_{user_id}", display_name=f"User {user_id}"
        )
        self.users[user_id] = user
        return user

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("user-service is down", request=request)
        if request.headers.get("X-Internal-Token") != self.internal_token:
            return httpx.Response(401, json={"detail": "Missing or invalid internal credential"})
        path = request.url.path
        if request.method == "POST" and path == "/internal/users/batch":
            self.batch_calls += 1
            ids = [int(i) for i in httpx.Response(200, content=request.content).json()["ids"]]
            items = [
                self.users[i].model_dump(mode="json") | {"followers_count": 0}
                for i in ids
                if i in self.users
            ]
            return httpx.Response(200, json={"items": items})
        match = re.fullmatch(r"/internal/users/by-username/([^/]+)", path)
        if request.method == "GET" and match:
            for user in self.users.values():
                if user.username.lower() == match.group(1).lower():
                    return httpx.Response(200, json=user.model_dump(mode="json"))
            return httpx.Response(404, json={"detail": "User not found"})
        return httpx.Response(404, json={"detail": "no such route"})


def as_user(user: UserSummary | int) -> dict[str, str]:
    user_id = user if isinstance(user, int) else user.id
    return {"X-User-ID": str(user_id)}


async def create_post(
    client: httpx.AsyncClient, author: UserSummary, caption: str = "hello", **headers: str
) -> dict[str, object]:
    response = await client.post(
        "/posts", json={"caption": caption}, headers=as_user(author) | headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def outbox_events(database: Database, post_id: int | str) -> list[tuple[str, dict]]:
    async with database.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT event_type, payload FROM posts.outbox "
                "WHERE (payload->'data'->>'post_id')::bigint = :post_id ORDER BY id"
            ),
            {"post_id": int(post_id)},
        )
        return [(row.event_type, row.payload) for row in rows]
