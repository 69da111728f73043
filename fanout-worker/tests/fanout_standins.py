"""A tiny stand-in for user-service and post-service, served over real HTTP on a loopback port so
the worker reaches it in-process and from a subprocess alike. Tests set its state directly."""

from __future__ import annotations

import asyncio
import base64
import bisect
import socket
from collections import Counter
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode()


def _decode_cursor(cursor: str) -> int:
    return int(base64.urlsafe_b64decode(cursor.encode()))


@dataclass
class StandInState:
    #: author id -> ascending follower ids
    followers: dict[int, list[int]] = field(default_factory=dict)
    #: author id -> post ids, newest first
    posts: dict[int, list[int]] = field(default_factory=dict)
    #: author id -> seconds to wait before answering a follower page
    page_delay: dict[int, float] = field(default_factory=dict)
    #: user ids whose erasure post-service was asked for, in order
    erased: list[int] = field(default_factory=list)
    #: accounts user-service no longer knows (deleted): their follower pages are 404
    deleted_users: set[int] = field(default_factory=set)
    #: when set, every internal route answers 500
    failing: bool = False
    #: when set, follower pages carry no follower count and ignore max_followers (a
    #: user-service of the previous release)
    pages_without_count: bool = False
    requests: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        self.followers.clear()
        self.posts.clear()
        self.page_delay.clear()
        self.erased.clear()
        self.deleted_users.clear()
        self.failing = False
        self.pages_without_count = False
        self.requests.clear()


def build_app(state: StandInState) -> Starlette:
    def failure() -> JSONResponse:
        return JSONResponse({"title": "Internal error", "status": 500}, status_code=500)

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def users_batch(request: Request) -> JSONResponse:
        state.requests["users_batch"] += 1
        if state.failing:
            return failure()
        ids = [int(i) for i in (await request.json())["ids"]]
        items = [
            {
                "id": str(i),
                "username": f"user{i}",
                "display_name": f"User {i}",
                "followers_count": len(state.followers.get(i, [])),
            }
            for i in ids
        ]
        return JSONResponse({"items": items})

    async def follower_ids(request: Request) -> JSONResponse:
        state.requests["follower_ids"] += 1
        if state.failing:
            return failure()
        author = int(request.path_params["user_id"])
        if author in state.deleted_users:
            return JSONResponse(
                {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "no user"},
                status_code=404,
            )
        limit = int(request.query_params.get("limit", "1000"))
        cursor = request.query_params.get("cursor")
        delay = state.page_delay.get(author, 0.0)
        if delay:
            await asyncio.sleep(delay)
        ids = state.followers.get(author, [])
        if state.pages_without_count:
            max_followers = None
        else:
            max_followers = request.query_params.get("max_followers")
        if max_followers is not None and len(ids) > int(max_followers):
            state.requests["follower_ids_over_max"] += 1
            return JSONResponse({"items": [], "next_cursor": None, "followers_count": len(ids)})
        start = bisect.bisect_right(ids, _decode_cursor(cursor)) if cursor else 0
        page = ids[start : start + limit]
        more = start + limit < len(ids)
        body: dict[str, object] = {
            "items": [str(i) for i in page],
            "next_cursor": _encode_cursor(page[-1]) if more and page else None,
        }
        if not state.pages_without_count:
            body["followers_count"] = len(ids)
        return JSONResponse(body)

    async def posts_by_authors(request: Request) -> JSONResponse:
        state.requests["posts_by_authors"] += 1
        if state.failing:
            return failure()
        body = await request.json()
        items = [
            {"id": str(post_id), "author_id": str(author)}
            for author in (int(a) for a in body["author_ids"])
            for post_id in state.posts.get(author, [])
        ]
        items.sort(key=lambda item: int(item["id"]), reverse=True)
        return JSONResponse({"items": items[: int(body["limit"])]})

    async def erase_user(request: Request) -> Response:
        state.requests["erase_user"] += 1
        if state.failing:
            return failure()
        user_id = int(request.path_params["user_id"])
        state.erased.append(user_id)
        state.posts.pop(user_id, None)
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/internal/users/batch", users_batch, methods=["POST"]),
            Route("/internal/users/{user_id:int}/follower-ids", follower_ids),
            Route("/internal/posts/by-authors", posts_by_authors, methods=["POST"]),
            Route("/internal/users/{user_id:int}/erase", erase_user, methods=["POST"]),
        ]
    )


class StandInServer:
    """Serves the stand-in on a free loopback port inside the running event loop."""

    def __init__(self) -> None:
        self.state = StandInState()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            build_app(self.state), log_config=None, access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        deadline = asyncio.get_running_loop().time() + 10
        while not self._server.started:
            if self._task.done() or asyncio.get_running_loop().time() > deadline:
                raise RuntimeError("stand-in server did not start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._sock.close()
