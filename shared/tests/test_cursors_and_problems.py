import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from feedline_shared.cursors import cursor_int, decode_cursor, encode_cursor
from feedline_shared.problems import BadRequest, NotFound, install_problem_handlers
from feedline_shared.schemas import PostCreateRequest, RegisterRequest


def test_cursor_round_trip_and_garbage_is_a_400():
    token = encode_cursor({"b": "123"})
    fields = decode_cursor(token, required=("b",))
    assert fields is not None and cursor_int(fields, "b") == 123
    assert decode_cursor(None) is None
    for bad in ("%%%", "bm90IGpzb24", encode_cursor({"x": 1}), "A" * 600):
        with pytest.raises(BadRequest):
            decode_cursor(bad, required=("b",))
    with pytest.raises(BadRequest):
        cursor_int({"b": "-5"}, "b")


class Body(BaseModel):
    name: str


def _app() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    async def create(body: Body) -> dict:
        raise NotFound("no such thing")

    @app.get("/boom")
    async def boom() -> dict:
        raise RuntimeError("bug")

    return TestClient(app, raise_server_exceptions=False)


def test_problems_are_rfc9457_json():
    client = _app()
    response = client.post("/things", json={"name": "x"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "no such thing"


def test_validation_errors_list_fields_and_bad_json_is_400():
    client = _app()
    invalid = client.post("/things", json={"name": 5})
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["field"] == "name"
    malformed = client.post("/things", content=b"{", headers={"content-type": "application/json"})
    assert malformed.status_code == 400


def test_unexpected_errors_are_500_problems_without_internals():
    response = _app().get("/boom")
    assert response.status_code == 500
    assert "bug" not in response.text


def test_contract_request_rules():
    assert RegisterRequest(username="Ab_c.d", password="12345678").username == "Ab_c.d"
    for username in ("ab", "a" * 31, "bad name", "héllo"):
        with pytest.raises(ValueError):
            RegisterRequest(username=username, password="12345678")
    with pytest.raises(ValueError):
        PostCreateRequest(caption="x", media_url="javascript:alert(1)")
    with pytest.raises(ValueError):
        PostCreateRequest(caption="bell\x07")
