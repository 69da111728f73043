"""For the services' tests: the same requests asked of an app serving direct routes and of the
same app served by FastAPI alone (``direct=False``), which must answer alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI

from feedline_shared.direct import direct_routes

#: method, URL, extra headers.
Case = tuple[str, str, dict[str, str]]
#: status, content type, body.
Answer = tuple[int, str | None, bytes]


def direct_route_keys(routers: Sequence[APIRouter], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path template) of every route of ``routers`` served direct."""
    return {
        (method, entry.route.path)
        for entry in direct_routes(routers, prefix)
        if entry.plan is not None
        for method in entry.route.methods
    }


@asynccontextmanager
async def served(
    app: FastAPI, base_url: str, internal_token: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` (its lifespan running) that sends the internal credential."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=base_url,
            headers={"X-Internal-Token": internal_token},
        ) as http,
    ):
        yield http


async def answer(client: httpx.AsyncClient, case: Case) -> Answer:
    method, url, headers = case
    response = await client.request(method, url, headers=headers)
    return response.status_code, response.headers.get("content-type"), response.content


async def answers_both_ways(
    direct: httpx.AsyncClient, reference: httpx.AsyncClient, cases: Sequence[Case]
) -> tuple[list[Answer], list[Answer]]:
    """FastAPI's answers and the direct routes' answers to ``cases``, each case asked of FastAPI
    first and then of the direct routes, so that both see the same state (repeating an
    idempotent write answers the same)."""
    expected, answers = [], []
    for case in cases:
        expected.append(await answer(reference, case))
        answers.append(await answer(direct, case))
    return expected, answers
