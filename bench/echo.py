"""The ceiling: a bare two-hop FastAPI echo with the gateway's shape and server settings.

``backend`` answers ``GET /echo`` with ``ECHO_BYTES`` of pre-serialised JSON (the size of a
20-item feed page); ``proxy`` forwards every GET to it over
``feedline_shared.http.create_internal_client`` and relays the bytes, as the gateway relays a
service's answer. Both run under uvicorn with uvloop and httptools, one worker each.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from feedline_shared.http import create_internal_client


def payload(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (at least 12)."""
    skeleton = orjson.dumps({"items": [], "pad": ""})
    return orjson.dumps({"items": [], "pad": "x" * max(0, size - len(skeleton))})


def create_backend() -> FastAPI:
    body = payload(int(os.environ.get("ECHO_BYTES", "8000")))
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/echo")
    async def echo() -> Response:
        return Response(body, media_type="application/json")

    return app


def create_proxy() -> FastAPI:
    backend = os.environ["ECHO_BACKEND_URL"]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.http = create_internal_client("bench-echo-token", 5.0, base_url=backend)
        yield
        await app.state.http.aclose()

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)

    @app.get("/echo")
    async def forward(request: Request) -> Response:
        upstream = await request.app.state.http.get("/echo")
        headers = {"content-type": upstream.headers.get("content-type", "application/json")}
        return Response(upstream.content, status_code=upstream.status_code, headers=headers)

    return app
