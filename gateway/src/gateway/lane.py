"""The forward lane: authenticated, bodiless routes served without FastAPI's per-request work.

Most gateway traffic (feed reads, profiles, lists, unlikes) only authenticates the caller,
checks the path values and the query, and forwards. FastAPI's routing, dependency solving and
request/response objects cost more CPU than that work itself (the bench's in-process
measurement: ~280 of ~480 µs per feed read), so such routes are served here, from their FastAPI
declarations: the same path checks in the same order, the same admission (token, rate limit,
deleted-account marker), FastAPI's own query validation, the same forwarding code and the same
exception handlers. The route is recorded in the scope as FastAPI records it, so metrics and
access logs name it the same way.

A route is served here only when everything it depends on is known below; anything else (a
body, sign-up and log-in, other dependencies, docs, operations, unknown paths, a method a path
does not take) goes on to FastAPI unchanged.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import dependencies
from gateway.auth import Authenticator, bearer_token
from gateway.proxy import Proxy
from gateway.routing import RouteTarget, resolve

API_KEY_HEADER = "x-api-key"

#: Path-value dependencies and the check each applies (404 for what no record can have).
PATH_CHECKS: dict[Callable[..., object], Callable[[str], object]] = {
    dependencies.valid_username: dependencies.checked_username,
    dependencies.valid_post_id: dependencies.checked_post_id,
    dependencies.valid_key_id: dependencies.checked_key_id,
}
#: Dependencies with nothing to do per request once the app is running.
NO_WORK = {dependencies.get_proxy}


@dataclass(frozen=True, slots=True)
class PathCheck:
    name: str
    check: Callable[[str], object]


@dataclass(frozen=True, slots=True)
class Admission:
    """The caller's credentials and rate limit: the route's ``CurrentPrincipal``."""


ADMISSION = Admission()

#: What a route's dependencies ask, in their declared order.
Step = PathCheck | Admission


@dataclass(frozen=True, slots=True, eq=False)
class LaneRoute:
    route: APIRoute
    path_regex: re.Pattern[str]
    #: None: FastAPI serves the route (its path still ends the search, as in FastAPI's router).
    target: RouteTarget | None
    steps: tuple[Step, ...] = ()


def _steps(dependant: Dependant) -> tuple[Step, ...] | None:
    """The lane's steps for the route's dependencies, or None when it cannot serve them."""
    if (
        dependant.body_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.path_params
    ):
        return None
    steps: list[Step] = []
    for sub in dependant.dependencies:
        if sub.call is dependencies.current_principal:
            steps.append(ADMISSION)
        elif sub.call in PATH_CHECKS and len(sub.path_params) == 1:
            steps.append(PathCheck(sub.path_params[0].alias, PATH_CHECKS[sub.call]))
        elif sub.call not in NO_WORK:
            return None
    return tuple(steps) if ADMISSION in steps else None


def _template_params(template: str) -> dict[str, str]:
    return {name: "{" + name + "}" for name in re.findall(r"{(\w+)}", template)}


def lane_routes(routers: Sequence[APIRouter], prefix: str) -> list[LaneRoute]:
    """Every public route in FastAPI's matching order; those the lane serves carry a target."""
    entries = []
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            path_regex, _, _ = compile_path(prefix + route.path)
            steps = _steps(route.dependant)
            targets = {
                resolve(method, route.path, _template_params(route.path))
                for method in route.methods
            }
            target = next(iter(targets)) if len(targets) == 1 else None
            if steps is None or target is None:
                entries.append(LaneRoute(route, path_regex, None))
            else:
                entries.append(LaneRoute(route, path_regex, target, steps))
    return entries


class ForwardLane:
    """ASGI middleware in front of the FastAPI router (inside request ids, metrics and limits)."""

    def __init__(self, app: ASGIApp, *, routes: list[LaneRoute], prefix: str) -> None:
        self.app = app
        self.routes = routes
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("root_path")
            or not scope["path"].startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        for entry in self.routes:
            found = entry.path_regex.match(path)
            if found is None or method not in entry.route.methods:
                continue
            if entry.target is None:
                break
            scope["route"] = entry.route
            scope["path_params"] = found.groupdict()
            await self._serve(entry, scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _serve(self, entry: LaneRoute, scope: Scope, receive: Receive, send: Send) -> None:
        assert entry.target is not None
        fastapi_app: FastAPI = scope["app"]
        state = fastapi_app.state
        path_params: dict[str, str] = scope["path_params"]
        headers = Headers(scope=scope)
        try:
            principal = None
            for step in entry.steps:
                if isinstance(step, Admission):
                    authenticator: Authenticator = state.authenticator
                    principal = await authenticator.admit(
                        bearer_token=bearer_token(headers.get("authorization")),
                        api_key=headers.get(API_KEY_HEADER),
                    )
                else:
                    step.check(path_params[step.name])
            query = scope["query_string"].decode("latin-1")
            errors = _query_errors(entry, query)
            if errors:
                raise RequestValidationError(errors)
            assert principal is not None
            proxy: Proxy = state.proxy
            response = await proxy.forward_public(
                entry.target,
                scope["method"],
                path_params,
                query=query,
                headers=headers,
                body=await _body(receive),
                user_id=principal.user_id,
            )
        except Exception as exc:
            handler = _handler_for(fastapi_app, exc)
            if handler is None:
                raise
            response = await handler(Request(scope, receive), exc)
        await response(scope, receive, send)


@functools.lru_cache(maxsize=4096)
def _query_errors(entry: LaneRoute, query: str) -> tuple[Any, ...]:
    """FastAPI's validation errors for the route's query parameters (a pure function of the
    query string, and clients repeat theirs: most reads send none or the same page size)."""
    _, errors = request_params_to_args(entry.route.dependant.query_params, QueryParams(query))
    return tuple(errors)


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _handler_for(app: FastAPI, exc: Exception) -> Callable | None:
    """The app's own handler for ``exc``, as its ExceptionMiddleware would pick it; the catch-all
    one is left to the server-error middleware (which logs and answers the same 500)."""
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        handler = app.exception_handlers.get(cls)
        if handler is not None:
            return handler
    return None
