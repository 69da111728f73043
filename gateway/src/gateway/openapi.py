"""The OpenAPI document: problem+json error answers declared once and reused by every route."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from feedline_shared.problems import PROBLEM_MEDIA_TYPE
from gateway.schemas import ProblemDetails

REF_TEMPLATE = "#/components/schemas/{model}"
PROBLEM_REF = REF_TEMPLATE.format(model="ProblemDetails")

_DESCRIPTIONS = {
    400: "Malformed request (bad JSON, bad cursor).",
    401: "Missing, invalid or expired credentials.",
    403: "Authenticated but not allowed.",
    404: "No such thing.",
    409: "Conflict.",
    413: "Request body too large.",
    422: "Validation failed.",
    429: "Rate limited; retry after Retry-After seconds.",
    503: "A dependency is down; the request could not be served safely.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
}

#: Every route can fail these ways at the edge whatever it does.
EDGE = (429, 503)
AUTHENTICATED = (401, *EDGE)
WITH_BODY = (400, 413, 422)
WITH_QUERY = (400, 422)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries for these problem statuses."""
    answers: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        answer: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {
                PROBLEM_MEDIA_TYPE: {
                    "schema": {"$ref": REF_TEMPLATE.format(model="ProblemDetails")}
                }
            },
        }
        if status in _HEADERS:
            answer["headers"] = _HEADERS[status]
        answers[status] = answer
    return answers


def install_openapi(app: FastAPI) -> None:
    """Builds the schema once, adding the ProblemDetails component the responses refer to."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            problem_schema = ProblemDetails.model_json_schema(ref_template=REF_TEMPLATE)
            components.update(problem_schema.pop("$defs", {}))
            components["ProblemDetails"] = problem_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
