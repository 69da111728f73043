"""A small client of the public API for the end-to-end tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Account:
    id: str
    username: str
    token: str
    password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Feedline:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=f"{base_url}/api/v1", timeout=30)

    def close(self) -> None:
        self.http.close()

    def request(
        self, method: str, path: str, account: Account | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if account is not None:
            headers.update(account.headers)
        return self.http.request(method, path, headers=headers, **kwargs)

    def register(self, prefix: str = "u", **extra: Any) -> Account:
        username = f"{prefix}_{uuid.uuid4().hex[:12]}"
        password = "correct horse battery"
        response = self.http.post(
            "/auth/register", json={"username": username, "password": password, **extra}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return Account(body["user"]["id"], username, body["access_token"], password)

    def follow(self, account: Account, other: Account) -> None:
        response = self.request("POST", f"/users/{other.username}/follow", account)
        assert response.status_code == 200, response.text

    def unfollow(self, account: Account, other: Account) -> None:
        response = self.request("DELETE", f"/users/{other.username}/follow", account)
        assert response.status_code == 200, response.text

    def post(self, account: Account, caption: str, **extra: Any) -> dict[str, Any]:
        response = self.request("POST", "/posts", account, json={"caption": caption, **extra})
        assert response.status_code == 201, response.text
        return response.json()

    def feed(self, account: Account, **params: Any) -> dict[str, Any]:
        response = self.request("GET", "/feed", account, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def feed_ids(self, account: Account, **params: Any) -> list[str]:
        return [item["id"] for item in self.feed(account, **params)["items"]]

    def all_feed_ids(self, account: Account, limit: int = 20, **params: Any) -> list[str]:
        ids: list[str] = []
        cursor = None
        for _ in range(1000):
            query = {"limit": limit, **params}
            if cursor:
                query["cursor"] = cursor
            page = self.feed(account, **query)
            ids.extend(item["id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return ids
        raise AssertionError("feed paging did not end")


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Polls ``check`` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")
