"""Direct routes: FastAPI routes with plain dependencies, served without FastAPI's per-request work.

FastAPI's routing, dependency solving and request wrapping cost more CPU than a cache-hit feed
read or a gateway forward themselves (in-process: ~280 of ~480 µs per gateway forward, a quarter
of a feed-service read; ~1.1 of ~2.5 ms per one-query internal read of user-service). For a
route whose every dependency is a plain ``async def`` or a function-scoped async generator
(``Depends(..., scope="function")``: the request's database session) taking only the Request,
``str`` path values and other such dependencies, and whose endpoint is an ``async def``
returning a Response or a value of its response model, the work is fixed once the app starts:
this middleware compiles it into a plan at startup and runs that plan per request — the same
dependencies and endpoint, called in FastAPI's order with FastAPI's per-request dependency
cache, generator dependencies closed after the endpoint (and its serialisation) and before the
answer is sent, the query validated and the answer serialised by FastAPI's own functions,
exceptions answered by the app's own handlers, and the route recorded in the scope as FastAPI
records it (metrics and access logs name it the same).

Every other request (bodies, header or cookie parameters, request-scoped generator
dependencies, sync callables, unknown paths, a method a path does not take) goes on to FastAPI
unchanged.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from types import UnionType
from typing import Any, Union, get_args, get_origin

import anyio
from fastapi import APIRouter, FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_typed_return_annotation, request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, serialize_response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass(frozen=True, slots=True, eq=False)
class Plan:
    """How to call one dependency (or the endpoint) with what this request holds."""

    call: Callable[..., Any]
    request_param: str | None
    #: (parameter, path value name) of ``str`` path parameters.
    path_params: tuple[tuple[str, str], ...]
    #: (parameter or None for a route-level dependency, its plan), in declared order.
    dependencies: tuple[tuple[str | None, Plan], ...]
    use_cache: bool
    #: An async generator dependency: its value is what it yields, and it is closed (the
    #: exception, if any, thrown into it) when the endpoint's answer is ready.
    generator: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class DirectRoute:
    route: APIRoute
    path_regex: re.Pattern[str]
    #: None: FastAPI serves the route (its path still ends the search, as in FastAPI's router).
    plan: Plan | None


def _is_async(call: Callable[..., Any]) -> bool:
    if inspect.isroutine(call):
        return inspect.iscoroutinefunction(call)
    if inspect.isclass(call):
        return False
    # A callable instance (FastAPI's security schemes): its __call__ method decides.
    return inspect.iscoroutinefunction(type(call).__call__)


def _is_function_scoped_generator(dependant: Dependant) -> bool:
    # A request-scoped one (FastAPI's default for yield) is closed after the answer is sent,
    # which needs FastAPI's request stack; function scope closes before, as here.
    return inspect.isasyncgenfunction(dependant.call) and dependant.scope == "function"


def _plain_str(field: Any) -> bool:
    return field.field_info.annotation is str and not field.field_info.metadata


_CONTAINERS = (list, set, tuple, frozenset, dict)


def _scalar(field: Any) -> bool:
    # Validated query values are cached and shared between requests: no mutable containers.
    annotation = field.field_info.annotation
    members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
    return all(
        get_origin(member) not in _CONTAINERS and member not in _CONTAINERS
        for member in (*members, annotation)
    )


def compile_dependant(dependant: Dependant, *, endpoint: bool = False) -> Plan | None:
    """The plan for ``dependant``, or None when FastAPI has to solve it (anything beyond the
    Request, plain ``str`` path values, the endpoint's query, plain async dependencies and
    function-scoped async generator ones)."""
    generator = not endpoint and _is_function_scoped_generator(dependant)
    if (
        dependant.call is None
        or not (generator or _is_async(dependant.call))
        or dependant.body_params
        or dependant.header_params
        or dependant.cookie_params
        or (dependant.query_params and not endpoint)
        or not all(_scalar(field) for field in dependant.query_params)
        or dependant.websocket_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.own_oauth_scopes
        or not all(_plain_str(field) for field in dependant.path_params)
    ):
        return None
    dependencies = []
    for sub in dependant.dependencies:
        plan = compile_dependant(sub)
        if plan is None:
            return None
        dependencies.append((sub.name, plan))
    return Plan(
        call=dependant.call,
        request_param=dependant.request_param_name or dependant.http_connection_param_name,
        path_params=tuple((field.name, field.alias) for field in dependant.path_params),
        dependencies=tuple(dependencies),
        use_cache=dependant.use_cache,
        generator=generator,
    )


def direct_routes(routers: Sequence[APIRouter], prefix: str = "") -> list[DirectRoute]:
    """Every route of ``routers`` (included at ``prefix``) in FastAPI's matching order."""
    entries = []
    for route in (route for router in routers for route in router.routes):
        if not isinstance(route, APIRoute):
            # An included router or a plain route: what follows it is left to FastAPI, so that
            # no direct route can match before it does.
            break
        path_regex, _, _ = compile_path(prefix + route.path)
        returns = get_typed_return_annotation(route.endpoint)
        plan = None
        returns_response = inspect.isclass(returns) and issubclass(returns, Response)
        if returns_response or route.response_field is not None:
            plan = compile_dependant(route.dependant, endpoint=True)
        entries.append(DirectRoute(route, path_regex, plan))
    return entries


class DirectRoutes:
    """ASGI middleware in front of the FastAPI router (inside request ids, metrics and limits)."""

    def __init__(self, app: ASGIApp, *, routes: list[DirectRoute], prefix: str = "") -> None:
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
            if entry.plan is None:
                break
            scope["route"] = entry.route
            scope["path_params"] = found.groupdict()
            await self._serve(entry, entry.plan, scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _serve(
        self, entry: DirectRoute, plan: Plan, scope: Scope, receive: Receive, send: Send
    ) -> None:
        request = Request(scope, receive)
        try:
            values, errors = _query_values(entry, scope["query_string"].decode("latin-1"))
            # As FastAPI's function scope: generator dependencies close once the answer is
            # ready (a session commits), before it is sent, so a failed commit is answered as
            # an error, never after a 2xx.
            async with AsyncExitStack() as stack:
                answer = await _run(
                    plan, request, scope["path_params"], {}, stack, query=(values, errors)
                )
                response = await _response(entry.route, answer)
        except Exception as exc:
            handler = _handler_for(scope["app"], exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)


async def _response(route: APIRoute, answer: Any) -> Response:
    """The endpoint's answer as FastAPI's request handler makes it: a Response as it is, any
    other value validated and serialised by the route's response model."""
    if isinstance(answer, Response):
        return answer
    # FastAPI's fast path: straight to JSON bytes when there is a response model and the route
    # names no response class.
    dump_json = route.response_field is not None and isinstance(
        route.response_class, DefaultPlaceholder
    )
    content = await serialize_response(
        field=route.response_field,
        response_content=answer,
        include=route.response_model_include,
        exclude=route.response_model_exclude,
        by_alias=route.response_model_by_alias,
        exclude_unset=route.response_model_exclude_unset,
        exclude_defaults=route.response_model_exclude_defaults,
        exclude_none=route.response_model_exclude_none,
        dump_json=dump_json,
    )
    status = {"status_code": route.status_code} if route.status_code else {}
    response: Response
    if dump_json:
        response = Response(content, media_type="application/json", **status)
    else:
        response_class = route.response_class
        if isinstance(response_class, DefaultPlaceholder):
            response_class = response_class.value
        response = response_class(content, **status)
    if not is_body_allowed_for_status_code(response.status_code):
        response.body = b""
    return response


@asynccontextmanager
async def _shielded_exit(manager: AbstractAsyncContextManager[Any]) -> AsyncIterator[Any]:
    """``manager``, whose exit (a commit or rollback) runs to its end even when the request is
    cancelled meanwhile, as FastAPI shields a generator dependency's exit."""
    value = await manager.__aenter__()
    try:
        yield value
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            if not await manager.__aexit__(type(exc), exc, exc.__traceback__):
                raise
    else:
        with anyio.CancelScope(shield=True):
            await manager.__aexit__(None, None, None)


async def _run(
    plan: Plan,
    request: Request,
    path_values: dict[str, str],
    cache: dict[Callable[..., Any], Any],
    stack: AsyncExitStack,
    *,
    query: tuple[dict[str, Any], tuple[Any, ...]] | None = None,
) -> Any:
    kwargs: dict[str, Any] = {}
    if plan.request_param is not None:
        kwargs[plan.request_param] = request
    for name, value_name in plan.path_params:
        kwargs[name] = path_values[value_name]
    for name, sub in plan.dependencies:
        if sub.use_cache and sub.call in cache:
            value = cache[sub.call]
        else:
            value = await _run(sub, request, path_values, cache, stack)
            if sub.use_cache:
                cache[sub.call] = value
        if name is not None:
            kwargs[name] = value
    if query is not None:
        # As FastAPI does: the query is reported after every dependency ran.
        values, errors = query
        if errors:
            raise RequestValidationError(errors)
        kwargs.update(values)
    if plan.generator:
        return await stack.enter_async_context(
            _shielded_exit(asynccontextmanager(plan.call)(**kwargs))
        )
    return await plan.call(**kwargs)


@functools.lru_cache(maxsize=4096)
def _query_values(entry: DirectRoute, query: str) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """FastAPI's validated values and errors for the route's query parameters: a pure function
    of the query string, and clients repeat theirs (most reads send none, or the same size)."""
    fields = entry.route.dependant.query_params
    values, errors = request_params_to_args(fields, QueryParams(query))
    return values, tuple(errors)


def _handler_for(app: FastAPI, exc: Exception) -> Callable[..., Any] | None:
    """The app's own handler for ``exc``, as its ExceptionMiddleware would pick it; the catch-all
    one is left to the server-error middleware (which logs and answers the same 500)."""
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        handler = app.exception_handlers.get(cls)
        if handler is not None:
            return handler
    return None
