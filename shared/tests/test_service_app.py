from contextlib import asynccontextmanager

from fastapi import APIRouter
from fastapi.testclient import TestClient

from feedline_shared.app import create_service_app, set_readiness_checks
from feedline_shared.context import request_id_var
from feedline_shared.http import ActingUser
from feedline_shared.settings import ServiceSettings

router = APIRouter()


@router.post("/echo")
async def echo(user: ActingUser) -> dict:
    return {"user": str(user), "request_id": request_id_var.get()}


def _client(ready: bool = True) -> TestClient:
    @asynccontextmanager
    async def lifespan(app):
        async def redis_check() -> None:
            if not ready:
                raise ConnectionError("down")

        set_readiness_checks(app, {"redis": redis_check})
        yield

    settings = ServiceSettings(service_name="demo", internal_token="secret")
    app = create_service_app(
        settings, title="demo", lifespan=lifespan, routers=[router], max_body_bytes=100
    )
    return TestClient(app)


def test_internal_routes_need_the_credential_and_get_the_acting_user():
    with _client() as client:
        assert client.post("/echo", headers={"X-User-ID": "5"}).status_code == 401
        ok = client.post(
            "/echo",
            headers={"X-Internal-Token": "secret", "X-User-ID": "5", "X-Request-ID": "abc"},
        )
        assert ok.json() == {"user": "5", "request_id": "abc"}
        assert ok.headers["x-request-id"] == "abc"


def test_oversized_bodies_are_refused_with_413():
    with _client() as client:
        response = client.post(
            "/echo", content=b"x" * 500, headers={"X-Internal-Token": "secret", "X-User-ID": "5"}
        )
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"


def test_readiness_names_the_failing_dependency():
    with _client(ready=False) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["failing"] == ["redis"]
        assert client.get("/healthz").status_code == 200
        assert "feedline_http_requests_total" in client.get("/metrics").text


def test_production_refuses_the_development_credential():
    import pytest

    with pytest.raises(ValueError, match="INTERNAL_TOKEN"):
        ServiceSettings(environment="production")
    assert ServiceSettings(environment="production", internal_token="x" * 40).internal_token


def test_http_metrics_are_labelled_with_the_route_template():
    with _client() as client:
        client.post("/echo", headers={"X-Internal-Token": "secret", "X-User-ID": "5"})
        text = client.get("/metrics").text
        assert 'route="/echo"' in text


def test_chunked_bodies_over_the_limit_are_413_too():
    def chunks():
        for _ in range(10):
            yield b"x" * 50

    with _client() as client:
        response = client.post(
            "/echo", content=chunks(), headers={"X-Internal-Token": "secret", "X-User-ID": "5"}
        )
        assert response.status_code == 413


def test_each_request_is_logged_once_with_its_request_id():
    import logging

    from feedline_shared.context import request_id_var as current_request_id

    records: list[tuple[logging.LogRecord, str | None]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append((record, current_request_id.get()))

    handler = Collect()
    access = logging.getLogger("feedline.access")
    with _client() as client:
        access.addHandler(handler)
        try:
            client.post(
                "/echo",
                headers={"X-Internal-Token": "secret", "X-User-ID": "5", "X-Request-ID": "r-9"},
            )
        finally:
            access.removeHandler(handler)
    assert len(records) == 1
    record, request_id = records[0]
    assert record.status == 200 and record.route == "/echo" and request_id == "r-9"


@asynccontextmanager
async def _no_lifespan(app):
    yield


def test_the_young_generation_threshold_comes_from_the_settings():
    import gc

    before = gc.get_threshold()
    try:
        settings = ServiceSettings(service_name="gc-demo", gc_gen0_threshold=12_345)
        create_service_app(settings, title="gc", lifespan=_no_lifespan, routers=[])
        assert gc.get_threshold() == (12_345, *before[1:])
    finally:
        gc.set_threshold(*before)
