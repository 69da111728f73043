"""Register and log in: user-service checks the account, the gateway mints the access token."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from feedline_shared.jsonresponse import JSONBytes
from feedline_shared.problems import DependencyUnavailable
from gateway.proxy import Proxy, relay
from gateway.routing import PUBLIC_ROUTES, Upstream
from gateway.tokens import IssuedToken, TokenIssuer

TOKEN_TYPE = "bearer"
JSON_HEADERS = {"content-type": "application/json"}
#: Tokens must not be kept by caches between the client and us (RFC 6749 section 5.1).
NO_STORE = {"cache-control": "no-store"}


def _token_fields(token: IssuedToken) -> dict[str, Any]:
    return {
        "access_token": token.access_token,
        "token_type": TOKEN_TYPE,
        "expires_in": token.expires_in,
    }


def _user_of(body: bytes) -> dict[str, Any]:
    try:
        user = orjson.loads(body)
        int(user["id"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DependencyUnavailable(f"{Upstream.USERS} answered an unreadable user") from exc
    if not isinstance(user, dict):
        raise DependencyUnavailable(f"{Upstream.USERS} answered an unreadable user")
    return user


async def register(proxy: Proxy, tokens: TokenIssuer, body: bytes) -> Response:
    """Creates the account, then answers it with a first access token (201)."""
    target = PUBLIC_ROUTES[("POST", "/auth/register")]
    upstream = await proxy.send(
        target.service, "POST", target.path, body=body, headers=JSON_HEADERS
    )
    if upstream.status_code != 201:
        return relay(upstream)
    user = _user_of(upstream.content)
    token = tokens.mint(int(user["id"]))
    return JSONBytes({"user": user, **_token_fields(token)}, status_code=201, headers=NO_STORE)


async def log_in(proxy: Proxy, tokens: TokenIssuer, body: bytes) -> Response:
    """Checks the credentials with user-service, then answers an access token (200)."""
    target = PUBLIC_ROUTES[("POST", "/auth/token")]
    upstream = await proxy.send(
        target.service, "POST", target.path, body=body, headers=JSON_HEADERS
    )
    if upstream.status_code != 200:
        return relay(upstream)
    user = _user_of(upstream.content)
    return JSONBytes(_token_fields(tokens.mint(int(user["id"]))), headers=NO_STORE)
