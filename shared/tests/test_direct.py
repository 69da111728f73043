"""Direct routes: which routes they take, and answers identical to FastAPI's for those routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal

import fastapi.routing
import orjson
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import BaseModel
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope, Send

from feedline_shared.app import create_service_app
from feedline_shared.direct_check import direct_route_keys
from feedline_shared.http import ActingUser
from feedline_shared.pagination import DEFAULT_LIMIT, Cursor, Limit
from feedline_shared.problems import DependencyUnavailable, NotFound, Unauthorized
from feedline_shared.settings import ServiceSettings

router = APIRouter(prefix="/things", tags=["things"])
calls: list[str] = []


async def caller(request: Request) -> str:
    calls.append("caller")
    name = request.headers.get("x-caller")
    if not name:
        raise Unauthorized("Who is calling?")
    return name


async def thing(thing_id: str) -> int:
    if not thing_id.isdigit():
        raise NotFound(f"No thing {thing_id!r}")
    return int(thing_id)


async def greeting(who: Annotated[str, Depends(caller)]) -> str:
    return f"hello {who}"


class Payload(BaseModel):
    note: str


def answer(**values: object) -> Response:
    return Response(orjson.dumps(values), media_type="application/json")


@router.get("/mine")
async def mine(who: Annotated[str, Depends(caller)], user: ActingUser) -> Response:
    return answer(route="mine", who=who, user=user)


@router.get("/{thing_id}")
async def get_thing(
    request: Request,
    thing_id: Annotated[int, Depends(thing)],
    who: Annotated[str, Depends(caller)],
    hello: Annotated[str, Depends(greeting)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    kind: Literal["a", "b"] = "a",
) -> Response:
    body = await request.body()
    return answer(
        thing=thing_id, who=who, hello=hello, limit=limit, cursor=cursor, kind=kind, body=len(body)
    )


@router.delete("/{thing_id}")
async def broken(thing_id: Annotated[int, Depends(thing)]) -> Response:
    if thing_id == 1:
        raise OSError("connection reset")
    raise RuntimeError("a bug")


@router.post("/{thing_id}")
async def with_body(thing_id: Annotated[int, Depends(thing)], payload: Payload) -> Response:
    return answer(thing=thing_id, note=payload.note)


@router.put("/{thing_id}")
async def with_header(
    thing_id: Annotated[int, Depends(thing)], tag: Annotated[str, Header()] = "none"
) -> Response:
    return answer(thing=thing_id, tag=tag)


@router.get("/{thing_id}/model")
async def as_model(thing_id: Annotated[int, Depends(thing)]) -> dict[str, int]:
    return {"thing": thing_id}


@router.get("/{thing_id}/sync")
def sync_endpoint(thing_id: Annotated[int, Depends(thing)]) -> Response:
    return answer(thing=thing_id)


#: What the generator dependencies saw, in order: opened, closed cleanly, or the error thrown in.
held: list[str] = []


async def resource(request: Request) -> AsyncIterator[str]:
    """A function-scoped generator dependency, as the services' database session is."""
    held.append("open")
    try:
        yield "resource"
    except Exception as exc:
        held.append(f"rollback {type(exc).__name__}")
        raise
    if request.headers.get("x-fail-commit"):
        held.append("commit failed")
        raise DependencyUnavailable("The database did not commit")
    held.append("commit")


async def request_scoped(request: Request) -> AsyncIterator[str]:
    yield "closed after the answer is sent"


class Held(BaseModel):
    thing: int
    resource: str
    note: str | None = None


ResourceDep = Annotated[str, Depends(resource, scope="function")]


@router.get("/{thing_id}/held", response_model_exclude_none=True)
async def with_resource(
    thing_id: Annotated[int, Depends(thing)], used: ResourceDep, again: ResourceDep
) -> Held:
    held.append("endpoint")
    if thing_id == 0:
        raise NotFound("No thing 0")
    if thing_id == 1:
        return Held.model_validate({"thing": thing_id, "resource": used, "note": None})
    if thing_id == 2:
        # A Response returned where the model is declared goes out as it is.
        return answer(raw=True)  # type: ignore[return-value]
    if thing_id == 3:
        return {"thing": "not a number", "resource": used}  # type: ignore[return-value]
    return Held(thing=thing_id, resource=again, note=f"{used} twice")


@router.post("/{thing_id}/held", status_code=201)
async def created_with_resource(
    thing_id: Annotated[int, Depends(thing)], used: ResourceDep
) -> Held:
    return Held(thing=thing_id, resource=used)


@router.get("/{thing_id}/text", response_class=PlainTextResponse)
async def as_text(thing_id: Annotated[int, Depends(thing)]) -> str:
    return f"thing {thing_id}"


@router.get("/{thing_id}/loose")
async def loose(thing_id: Annotated[int, Depends(thing)]) -> Response:
    # Not the Response it declares: FastAPI encodes it as JSON all the same.
    return {"thing": thing_id}  # type: ignore[return-value]


@router.get("/{thing_id}/later")
async def with_request_scoped(
    thing_id: Annotated[int, Depends(thing)],
    later: Annotated[str, Depends(request_scoped)],
) -> Response:
    return answer(thing=thing_id, later=later)


async def _no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


def _app(*, direct: bool) -> FastAPI:
    settings = ServiceSettings(service_name="direct-demo", internal_token="secret")
    return create_service_app(
        settings,
        title="direct",
        lifespan=asynccontextmanager(_no_lifespan),
        routers=[router],
        prefix="/v1",
        direct=direct,
    )


def _client(*, direct: bool) -> TestClient:
    return TestClient(_app(direct=direct), raise_server_exceptions=False)


INTERNAL = {"X-Internal-Token": "secret", "X-User-ID": "7"}
CASES = [
    ("GET", "/v1/things/5", {"X-Caller": "ann"}, b""),
    ("GET", "/v1/things/5?limit=3&cursor=abc&kind=b", {"X-Caller": "ann"}, b""),
    ("GET", "/v1/things/5?limit=0&kind=c", {"X-Caller": "ann"}, b""),
    ("GET", "/v1/things/5?limit=0", {}, b""),
    ("GET", "/v1/things/x5?limit=0", {}, b""),
    ("GET", "/v1/things/5", {"X-Caller": "ann"}, b"a body anyway"),
    ("GET", "/v1/things/mine", {"X-Caller": "ann", **INTERNAL}, b""),
    ("GET", "/v1/things/mine", {"X-Caller": "ann"}, b""),
    ("DELETE", "/v1/things/1", {}, b""),
    ("DELETE", "/v1/things/2", {}, b""),
    ("POST", "/v1/things/5", {"Content-Type": "application/json"}, b'{"note": "n"}'),
    ("POST", "/v1/things/5", {"Content-Type": "application/json"}, b'{"note": 1'),
    ("PUT", "/v1/things/5", {"Tag": "t"}, b""),
    ("GET", "/v1/things/5/model", {}, b""),
    ("GET", "/v1/things/x/model", {}, b""),
    ("GET", "/v1/things/5/held", {}, b""),
    ("GET", "/v1/things/0/held", {}, b""),
    ("GET", "/v1/things/1/held", {}, b""),
    ("GET", "/v1/things/2/held", {}, b""),
    ("GET", "/v1/things/3/held", {}, b""),
    ("GET", "/v1/things/5/held", {"X-Fail-Commit": "1"}, b""),
    ("GET", "/v1/things/0/held", {"X-Fail-Commit": "1"}, b""),
    ("POST", "/v1/things/5/held", {}, b""),
    ("GET", "/v1/things/5/later", {}, b""),
    ("GET", "/v1/things/5/text", {}, b""),
    ("GET", "/v1/things/5/loose", {}, b""),
    ("GET", "/v1/things/5/sync", {}, b""),
    ("PATCH", "/v1/things/5", {}, b""),
    ("GET", "/v1/nothing", {}, b""),
    ("GET", "/things/5", {"X-Caller": "ann"}, b""),
]


def _answers(*, direct: bool) -> list[tuple[int, str | None, bytes, list[str]]]:
    """Each case's answer, with what the generator dependencies saw while it was made."""
    answers = []
    with _client(direct=direct) as client:
        for method, url, headers, body in CASES:
            held.clear()
            r = client.request(method, url, headers=headers, content=body)
            answers.append((r.status_code, r.headers.get("content-type"), r.content, [*held]))
    return answers


def test_direct_routes_answer_every_case_as_fastapi_does() -> None:
    reference = _answers(direct=False)
    assert _answers(direct=True) == reference
    assert {status for status, _, _, _ in reference} >= {200, 201, 401, 404, 405, 422, 500, 503}
    # The cases reach every way out of a generator dependency.
    assert {tuple(seen) for _, _, _, seen in reference} >= {
        ("open", "endpoint", "commit"),
        ("open", "endpoint", "rollback NotFound"),
        ("open", "endpoint", "commit failed"),
    }


def test_only_plain_async_routes_answering_a_response_are_direct() -> None:
    direct = direct_route_keys([router], "/v1")
    assert direct == {
        ("GET", "/things/mine"),
        ("GET", "/things/{thing_id}"),
        ("DELETE", "/things/{thing_id}"),
        ("GET", "/things/{thing_id}/model"),
        ("GET", "/things/{thing_id}/held"),
        ("POST", "/things/{thing_id}/held"),
        ("GET", "/things/{thing_id}/text"),
        ("GET", "/things/{thing_id}/loose"),
    }


@pytest.mark.parametrize("direct", [True, False])
def test_a_generator_dependency_closes_before_the_answer_is_sent(direct: bool) -> None:
    served = _app(direct=direct)
    sent: list[list[str]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent.append([*held])
            await send(message)

        await served(scope, receive, record)

    with TestClient(app) as client:
        held.clear()
        response = client.get("/v1/things/5/held")
    assert response.json() == {"thing": 5, "resource": "resource", "note": "resource twice"}
    # Used twice, opened once; committed before the first byte of the answer.
    assert sent == [["open", "endpoint", "commit"]]


def test_direct_routes_skip_fastapis_dependency_solving(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*_: object, **__: object) -> None:
        raise AssertionError("solved by FastAPI")

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", refuse)
    with _client(direct=True) as client:
        response = client.get("/v1/things/5?kind=b", headers={"X-Caller": "ann"})
        assert response.json()["kind"] == "b"
        assert client.post("/v1/things/5", json={"note": "n"}).status_code == 500


def test_a_dependency_used_twice_runs_once_per_request() -> None:
    with _client(direct=True) as client:
        calls.clear()
        response = client.get("/v1/things/5", headers={"X-Caller": "ann"})
    assert response.json()["hello"] == "hello ann"
    assert calls == ["caller"]


def test_direct_answers_are_counted_under_their_route_template() -> None:
    labels = {
        "service": "direct-demo",
        "method": "GET",
        "route": "/things/{thing_id}",
        "status": "200",
    }
    before = REGISTRY.get_sample_value("feedline_http_requests_total", labels) or 0.0
    with _client(direct=True) as client:
        for thing_id in (1, 2):
            assert client.get(f"/v1/things/{thing_id}", headers={"X-Caller": "a"}).is_success
    assert REGISTRY.get_sample_value("feedline_http_requests_total", labels) == before + 2
