"""The internal client over a real loopback server: answers are freed by reference counting."""

from __future__ import annotations

import asyncio
import gc
import socket
import weakref
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from feedline_shared.context import INTERNAL_TOKEN_HEADER, REQUEST_ID_HEADER, request_id_var
from feedline_shared.http import create_internal_client

BODY = b'{"items": []}'


async def echo_headers(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    seen = {k.decode(): v.decode() for k, v in scope["headers"]}
    body = BODY if scope["path"] == "/page" else repr(sorted(seen.items())).encode()
    headers = [(b"content-type", b"application/json")]
    if scope["path"] == "/session":
        headers.append((b"set-cookie", b"session=user-1; Path=/"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
async def base_url() -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(echo_headers, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = asyncio.get_running_loop().time() + 10
    while not server.started:
        if task.done() or asyncio.get_running_loop().time() > deadline:
            raise RuntimeError("test server did not start")
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_answers_carry_the_credential_and_request_id(base_url: str) -> None:
    client = create_internal_client("secret-token", 5.0, base_url=base_url)
    token = request_id_var.set("req-42")
    try:
        response = await client.get("/headers")
    finally:
        request_id_var.reset(token)
        await client.aclose()
    assert response.status_code == 200
    assert f"('{INTERNAL_TOKEN_HEADER.lower()}', 'secret-token')" in response.text
    assert f"('{REQUEST_ID_HEADER.lower()}', 'req-42')" in response.text


async def test_a_read_answer_is_freed_without_the_cycle_collector(base_url: str) -> None:
    client = create_internal_client("secret-token", 5.0, base_url=base_url)
    try:
        await client.get("/page")  # the pool's connection exists before counting
        gc.collect()
        gc.disable()
        try:
            response = await client.get("/page")
            assert response.content == BODY
            assert response.json() == {"items": []}
            freed = weakref.ref(response)
            del response
            assert freed() is None, "the answer is kept alive by a reference cycle"
            for _ in range(50):
                assert (await client.get("/page")).content == BODY
            # What the collector finds now, answers and requests among it: a cycle per answer
            # would put all 50 there. (Only these are counted: earlier tests in the same process
            # leave other garbage, such as their cancelled tasks' frames, to be found here.)
            gc.set_debug(gc.DEBUG_SAVEALL)
            try:
                gc.collect()
                kept = [o for o in gc.garbage if isinstance(o, (httpx.Response, httpx.Request))]
            finally:
                gc.garbage.clear()
                gc.set_debug(0)
            assert kept == []
        finally:
            gc.enable()
    finally:
        await client.aclose()


async def test_a_streamed_answer_still_streams(base_url: str) -> None:
    client = create_internal_client("secret-token", 5.0, base_url=base_url)
    try:
        async with client.stream("GET", "/page") as response:
            chunks = [chunk async for chunk in response.aiter_bytes()]
    finally:
        await client.aclose()
    assert b"".join(chunks) == BODY


async def test_a_cookie_one_answer_sets_never_rides_on_a_later_call(base_url: str) -> None:
    client = create_internal_client("secret-token", 5.0, base_url=base_url)
    try:
        first = await client.get("/session")
        assert first.cookies.get("session") == "user-1"  # the answer itself still shows it
        later = await client.get("/headers")
    finally:
        await client.aclose()
    assert "('cookie'" not in later.text
    assert len(client.cookies) == 0
