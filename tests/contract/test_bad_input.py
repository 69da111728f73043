"""Bad input is a clear 4xx problem and writes nothing: malformed JSON, wrong types, oversized
bodies, control characters, invalid cursors, out-of-range limits, ids of the wrong shape."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from conftest import Account, Feedline, assert_problem, register

#: The gateway's documented body limit (feedline_shared.app.DEFAULT_MAX_BODY_BYTES).
MAX_BODY_BYTES = 64 * 1024


def snapshot(api: Feedline, account: Account) -> dict[str, Any]:
    """Everything a bad request by ``account`` could have written, as the API shows it."""
    me = api.request("GET", "/users/me", account).json()
    posts = api.request("GET", f"/users/{account.username}/posts", account).json()
    keys = api.request("GET", "/auth/api-keys", account).json()
    return {"me": me, "posts": posts["items"], "keys": keys["items"]}


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/posts", b'{"caption": "unterminated"', 400),
        ("/posts", b"\xff\xfe not utf-8", 400),
        ("/posts", b'{"caption": 5}', 422),
        ("/posts", b'["caption"]', 422),
        ("/posts", b"null", 422),
        ("/posts", b'{"caption": ""}', 422),
        ("/posts", b'{"caption": "ok", "author_id": "1"}', 422),
        ("/posts", b'{"caption": "ok", "media_url": "javascript:alert(1)"}', 422),
        ("/posts", b'{"caption": "a\\u0000b"}', 422),
        ("/posts", b'{"caption": "bell\\u0007"}', 422),
        ("/posts", b'{"caption": "lone \\ud800 surrogate"}', 422),
        ("/users/me", b'{"bio": 12}', 422),
        ("/users/me", b'{"display_name": "esc\\u001b[31m"}', 422),
        ("/users/me", b'{"bio": "' + b"b" * 151 + b'"}', 422),
        ("/auth/api-keys", b'{"name": {"nested": true}}', 422),
        ("/auth/api-keys", b"{}", 422),
    ],
)
def test_malformed_or_invalid_body_is_a_problem_and_writes_nothing(
    api: Feedline, account: Account, path: str, body: bytes, status: int
) -> None:
    before = snapshot(api, account)
    method = "PATCH" if path == "/users/me" else "POST"
    response = api.request(
        method, path, account, content=body, headers={"content-type": "application/json"}
    )
    problem = assert_problem(response, status)
    if status == 422:
        assert problem["errors"], problem
    assert snapshot(api, account) == before


@pytest.mark.parametrize("chunked", [False, True])
def test_oversized_body_is_413_and_writes_nothing(
    api: Feedline, account: Account, chunked: bool
) -> None:
    before = snapshot(api, account)
    payload = b'{"caption": "' + b"a" * MAX_BODY_BYTES + b'"}'
    # A generator body goes out chunked, without Content-Length, so the limit is enforced on
    # the bytes read and not only on the declared length.
    content = iter([payload[:1000], payload[1000:]]) if chunked else payload
    response = api.request(
        "POST", "/posts", account, content=content, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)
    assert snapshot(api, account) == before


def test_body_at_the_limit_is_not_refused_for_size(api: Feedline, account: Account) -> None:
    # Just under the limit, the body is read and validated: a too-long caption is a 422.
    payload = b'{"caption": "' + b"a" * (MAX_BODY_BYTES - 20) + b'"}'
    assert len(payload) <= MAX_BODY_BYTES
    response = api.request(
        "POST", "/posts", account, content=payload, headers={"content-type": "application/json"}
    )
    assert_problem(response, 422)


@pytest.mark.parametrize(
    "text",
    [
        "'; DROP TABLE posts.posts; --",
        '" OR 1=1 -- ',
        "Robert'); DELETE FROM users.users WHERE ('1'='1",
        "emoji 👩‍👩‍👧 rtl \u202eevil\u202c combining e\u0301 cjk 你好 zero\u200bwidth",
        "line one\nline two\ttabbed",
    ],
)
def test_sql_looking_and_unicode_text_is_stored_verbatim(
    api: Feedline, account: Account, text: str
) -> None:
    created = api.post(account, text)
    assert created["caption"] == text
    fetched = api.request("GET", f"/posts/{created['id']}", account)
    assert fetched.status_code == 200
    assert fetched.json()["caption"] == text
    profile = api.request("PATCH", "/users/me", account, json={"bio": text[:150]})
    assert profile.status_code == 200
    assert profile.json()["bio"] == text[:150]


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("' OR '1'='1", "' OR '1'='1"),
        ("admin'--", "anything-at-all"),
        ("x\u0000y", "password-with-nul"),
    ],
)
def test_sql_looking_login_is_refused_like_any_wrong_password(
    api: Feedline, username: str, password: str
) -> None:
    response = api.http.post("/auth/token", json={"username": username, "password": password})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "username",
    ["' OR 1=1--", "a; DROP TABLE users", "ab", "x" * 31, "na\u00efve", "../../etc/passwd"],
)
def test_registration_with_an_invalid_username_is_422_and_creates_nobody(
    api: Feedline, account: Account, username: str
) -> None:
    response = api.http.post("/auth/register", json={"username": username, "password": "x" * 12})
    assert_problem(response, 422)
    lookup = api.request("GET", f"/users/{username}", account)
    assert lookup.status_code in (404, 422)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


INVALID_CURSORS = [
    "!!!not-base64!!!",
    _b64(b"not json"),
    _b64(b"[1, 2, 3]"),
    _b64(b'{"unexpected": 1}'),
    _b64(b'{"before": "-5"}'),
    _b64(b'{"before": "99999999999999999999999"}'),
    _b64(b'{"before": "1; DROP TABLE posts"}'),
    "A" * 513,
]


@pytest.mark.parametrize("list_path", ["/feed", "/users/{u}/posts", "/users/{u}/followers"])
def test_invalid_or_tampered_cursor_is_400(api: Feedline, account: Account, list_path: str) -> None:
    path = list_path.format(u=account.username)
    for cursor in INVALID_CURSORS:
        response = api.request("GET", path, account, params={"cursor": cursor})
        # Longer than the documented 512 characters is a validation failure of the parameter.
        assert_problem(response, 422 if len(cursor) > 512 else 400)


def test_tampered_cursor_of_a_real_page_is_400(api: Feedline, account: Account) -> None:
    for number in range(3):
        api.post(account, f"page item {number}")
    first = api.request("GET", f"/users/{account.username}/posts", account, params={"limit": 1})
    cursor = first.json()["next_cursor"]
    assert cursor
    fields = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    # Flip one byte of the decoded JSON so it no longer parses.
    tampered = _b64(fields.replace(b"{", b"<", 1))
    response = api.request(
        "GET", f"/users/{account.username}/posts", account, params={"cursor": tampered}
    )
    assert_problem(response, 400)


@pytest.mark.parametrize("list_path", ["/feed", "/users/{u}/posts", "/users/{u}/following"])
def test_limit_out_of_range_is_422(api: Feedline, account: Account, list_path: str) -> None:
    for limit in ["0", "-1", "101", "1e3", "abc", "", "99999999999999999999"]:
        response = api.request(
            "GET", list_path.format(u=account.username), account, params={"limit": limit}
        )
        problem = assert_problem(response, 422)
        assert problem["errors"][0]["field"] == "limit", limit


BAD_IDS = ["abc", "0", "-1", "1.5", "9223372036854775808", "1e9", "%00", "1%20OR%201=1"]


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/posts/{id}"),
        ("DELETE", "/posts/{id}"),
        ("POST", "/posts/{id}/like"),
        ("DELETE", "/posts/{id}/like"),
        ("DELETE", "/auth/api-keys/{id}"),
    ],
)
def test_id_of_the_wrong_shape_is_404_and_writes_nothing(
    api: Feedline, account: Account, method: str, template: str
) -> None:
    before = snapshot(api, account)
    for bad_id in BAD_IDS:
        assert_problem(api.request(method, template.format(id=bad_id), account), 404)
    assert snapshot(api, account) == before


def test_unknown_well_formed_ids_are_404(api: Feedline, account: Account) -> None:
    unknown = str(2**62 + 12345)
    for method, path in [
        ("GET", f"/posts/{unknown}"),
        ("DELETE", f"/posts/{unknown}"),
        ("POST", f"/posts/{unknown}/like"),
        ("DELETE", f"/auth/api-keys/{unknown}"),
        ("GET", "/users/nobody_by_this_name"),
        ("POST", "/users/nobody_by_this_name/follow"),
    ]:
        assert_problem(api.request(method, path, account), 404)


def test_follow_of_an_unknown_or_malformed_name_changes_no_counts(
    api: Feedline, account: Account
) -> None:
    other = register(api, "f")
    before = snapshot(api, account)
    for name in ["' OR 1=1--", "nobody_here_at_all", "a" * 40]:
        assert_problem(api.request("POST", f"/users/{name}/follow", account), 404)
    assert_problem(api.request("POST", f"/users/{account.username}/follow", account), 422)
    assert snapshot(api, account) == before
    assert api.request("GET", f"/users/{other.username}", account).json()["followers_count"] == 0
