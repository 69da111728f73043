"""One error path: domain exceptions and RFC 9457 problem+json responses for every service."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://feedline.dev/problems/"

logger = logging.getLogger(__name__)


class Problem(Exception):
    """A failure the client should see, with its HTTP status and a stable type slug."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            payload["errors"] = self.errors
        return payload


class BadRequest(Problem):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(Problem):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class ValidationFailed(Problem):
    status, slug, title = 422, "validation-failed", "Validation failed"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        if errors is None and field is not None:
            errors = [{"field": field, "message": detail}]
        super().__init__(detail, errors=errors)


class RateLimited(Problem):
    status, slug, title = 429, "rate-limited", "Too many requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Rate limit exceeded; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


class DependencyUnavailable(Problem):
    status, slug, title = 503, "dependency-unavailable", "Service unavailable"


_STATUS_SLUGS = {cls.status: cls for cls in Problem.__subclasses__()}


def problem_response(problem: Problem) -> Response:
    return Response(
        orjson.dumps(problem.body()),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


def problem_from_status(status: int, detail: str | None = None) -> Problem:
    cls = _STATUS_SLUGS.get(status)
    if cls is None:
        problem = Problem(detail)
        problem.status = status
        problem.slug = "error"
        problem.title = "Error"
        return problem
    if cls is Unauthorized:
        return Unauthorized(detail)
    if cls is RateLimited:
        return RateLimited(1)
    if cls is ValidationFailed:
        return ValidationFailed(detail or "Validation failed")
    return cls(detail)


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(location[-1] if location else "body")


def validation_problem(exc: RequestValidationError) -> Problem:
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        return BadRequest("Request body is not valid JSON")
    details = [
        {"field": _field_path(err.get("loc", ())), "message": str(err.get("msg", "invalid"))}
        for err in errors
    ]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return ValidationFailed(summary, errors=details)


def is_connection_failure(exc: DBAPIError) -> bool:
    """The database went away (restart, network, shutdown), as opposed to a bad statement."""
    if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
        return True
    orig = exc.orig
    cause = getattr(orig, "__cause__", None)
    names = {type(orig).__name__, type(cause).__name__}
    return bool(
        isinstance(cause, OSError)
        or names
        & {
            "AdminShutdownError",
            "CannotConnectNowError",
            "ConnectionDoesNotExistError",
            "ConnectionFailureError",
            "InterfaceError",
            "ConnectionResetError",
            "ConnectionRefusedError",
        }
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> Response:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        return problem_response(validation_problem(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        problem = problem_from_status(exc.status_code, str(exc.detail) if exc.detail else None)
        if exc.headers:
            problem.headers.update(exc.headers)
        return problem_response(problem)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> Response:
        if is_connection_failure(exc):
            logger.warning("database unavailable: %s", type(exc.orig).__name__)
            return problem_response(
                DependencyUnavailable("The database is unavailable; try again shortly")
            )
        return await _unexpected(request, exc)

    @app.exception_handler(PoolTimeoutError)
    async def _pool_exhausted(_: Request, exc: PoolTimeoutError) -> Response:
        logger.warning("database pool exhausted")
        return problem_response(DependencyUnavailable("The database is busy; try again shortly"))

    @app.exception_handler(OSError)
    async def _connection(_: Request, exc: OSError) -> Response:
        # Unwrapped socket errors (a refused or reset connection to a database or broker).
        logger.warning("dependency connection failed: %s", exc)
        return problem_response(DependencyUnavailable("A dependency is unavailable"))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        logger.exception("unhandled error", exc_info=exc)
        problem = Problem("An unexpected error occurred; it has been logged")
        problem.status, problem.slug, problem.title = 500, "internal-error", "Internal error"
        return problem_response(problem)
