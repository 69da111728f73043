"""Passwords never reach a log line, whichever way they travel through the system."""

from __future__ import annotations

import httpx
from conftest import LOG_DIR, PASSWORD, Feedline, System, register


def test_passwords_never_appear_in_any_process_log(api: Feedline, system: System) -> None:
    account = register(api, "logs")
    # Every path a password takes: registration, a good and a bad login, a malformed login,
    # a registration that fails validation, and a username taken twice.
    assert (
        api.http.post(
            "/auth/token", json={"username": account.username, "password": PASSWORD}
        ).status_code
        == 200
    )
    assert (
        api.http.post(
            "/auth/token", json={"username": account.username, "password": PASSWORD + "-wrong"}
        ).status_code
        == 401
    )
    api.http.post("/auth/token", content=f'{{"username": "x", "password": "{PASSWORD}"', headers={})
    api.http.post("/auth/register", json={"username": "!", "password": PASSWORD})
    api.http.post("/auth/register", json={"username": account.username, "password": PASSWORD})
    # Internal routes that carry passwords, called without the credential (refused and logged).
    httpx.post(
        f"http://127.0.0.1:{system.base_port + 1}/internal/auth/login",
        json={"username": account.username, "password": PASSWORD},
        timeout=10,
    )
    logs = sorted(LOG_DIR.glob("*.log"))
    assert {path.stem for path in logs} >= {
        "gateway",
        "user-service",
        "post-service",
        "feed-service",
        "fanout-worker",
    }
    for path in logs:
        text = path.read_text(errors="replace")
        assert PASSWORD not in text, f"password found in {path}"
        assert "wrong-password" not in text
