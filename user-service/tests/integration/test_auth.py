"""Registration and login (POST /internal/auth/register, /internal/auth/login)."""

from __future__ import annotations

import httpx
import pytest

PROBLEM = "application/problem+json"


async def test_register_returns_the_new_user(client: httpx.AsyncClient, new_username) -> None:
    name = new_username()
    response = await client.post(
        "/internal/auth/register", json={"username": name, "password": "s3cret-pass", "bio": "hi"}
    )
    assert response.status_code == 201
    body = response.json()
    assert isinstance(body["id"], str) and int(body["id"]) > 0
    assert body["username"] == name
    assert body["display_name"] == name  # defaults to the username
    assert body["bio"] == "hi"
    assert body["followers_count"] == body["following_count"] == body["posts_count"] == 0
    assert body["created_at"].endswith("Z")
    assert "password" not in response.text and "hash" not in response.text


async def test_username_is_stored_lowercase_and_taken_case_insensitively(
    client: httpx.AsyncClient, new_username
) -> None:
    name = new_username("Mixed")
    first = await client.post(
        "/internal/auth/register", json={"username": name, "password": "password1"}
    )
    assert first.status_code == 201
    assert first.json()["username"] == name.lower()
    assert first.json()["display_name"] == name

    again = await client.post(
        "/internal/auth/register", json={"username": name.upper(), "password": "password1"}
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    problem = again.json()
    assert problem["status"] == 409
    assert problem["type"].endswith("/conflict")
    assert "already taken" in problem["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ab", "password": "password1"}, "username"),
        ({"username": "has space", "password": "password1"}, "username"),
        ({"username": "x" * 31, "password": "password1"}, "username"),
        ({"username": "émile", "password": "password1"}, "username"),
        ({"username": "valid_name", "password": "short"}, "password"),
        ({"username": "valid_name", "password": "p" * 129}, "password"),
        ({"username": "valid_name", "password": "password1", "bio": "b" * 151}, "bio"),
        ({"username": "valid_name", "password": "password1", "display_name": "  "}, "display_name"),
        ({"username": "valid_name"}, "password"),
    ],
)
async def test_register_rejects_invalid_input_with_422_problem(
    client: httpx.AsyncClient, body: dict, field: str
) -> None:
    response = await client.post("/internal/auth/register", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422
    assert problem["detail"]
    assert field in {error["field"] for error in problem["errors"]}


async def test_register_with_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/internal/auth/register",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM


async def test_login_accepts_any_letter_case(client, make_user, password) -> None:
    user = await make_user()
    response = await client.post(
        "/internal/auth/login", json={"username": user["username"].upper(), "password": password}
    )
    assert response.status_code == 200
    assert response.json()["id"] == user["id"]


async def test_login_failures_are_indistinguishable(client, make_user, new_username) -> None:
    user = await make_user()
    wrong_password = await client.post(
        "/internal/auth/login", json={"username": user["username"], "password": "wrong-password"}
    )
    unknown_user = await client.post(
        "/internal/auth/login", json={"username": new_username(), "password": "wrong-password"}
    )
    malformed_name = await client.post(
        "/internal/auth/login", json={"username": "no such user!", "password": "whatever1"}
    )
    for response in (wrong_password, unknown_user, malformed_name):
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["detail"] == "Invalid username or password"
    assert wrong_password.json() == unknown_user.json() == malformed_name.json()


async def test_auth_routes_refuse_calls_without_internal_token(
    client: httpx.AsyncClient, new_username
) -> None:
    response = await client.post(
        "/internal/auth/register",
        json={"username": new_username(), "password": "password1"},
        headers={"X-Internal-Token": ""},
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
