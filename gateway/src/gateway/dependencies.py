"""Request dependencies as Annotated aliases: the caller, the limits, validated path ids."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from feedline_shared.problems import NotFound
from feedline_shared.schemas import USERNAME_PATTERN
from gateway.auth import Authenticator, Principal
from gateway.proxy import Proxy
from gateway.ratelimit import FixedWindowLimiter
from gateway.tokens import TokenIssuer

ID_PATTERN = r"^[1-9][0-9]{0,18}$"
MAX_ID = 2**63 - 1
_ID_RE = re.compile(ID_PATTERN)
_USERNAME_RE = re.compile(USERNAME_PATTERN)

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="BearerToken",
    description="Access token from POST /api/v1/auth/register or /api/v1/auth/token.",
)
_api_key = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="Key from POST /api/v1/auth/api-keys.",
)


async def get_proxy(request: Request) -> Proxy:
    return request.app.state.proxy


async def get_tokens(request: Request) -> TokenIssuer:
    return request.app.state.tokens


def _authenticator(request: Request) -> Authenticator:
    return request.app.state.authenticator


async def current_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """The authenticated caller, counted against its rate limit (401 or 429 otherwise)."""
    return await _authenticator(request).admit(
        bearer_token=bearer.credentials if bearer else None, api_key=api_key
    )


async def limit_by_address(request: Request) -> None:
    """Anonymous auth routes are limited per client address (password guessing, sign-up spam)."""
    limiter: FixedWindowLimiter = request.app.state.address_limiter
    await limiter.hit(request.client.host if request.client else "unknown")


async def valid_username(
    username: Annotated[
        str,
        Path(
            description="Username, 3-30 of a-z 0-9 _ . (case-insensitive).",
            json_schema_extra={"pattern": USERNAME_PATTERN},
        ),
    ],
) -> str:
    # A name no account can have is an unknown user (404), not a malformed request.
    if not _USERNAME_RE.match(username):
        raise NotFound(f"No user named {username[:40]!r}")
    return username


def _positive_id(value: str, what: str) -> int:
    if not _ID_RE.match(value) or int(value) > MAX_ID:
        raise NotFound(f"No {what} with id {value[:40]!r}")
    return int(value)


async def valid_post_id(
    post_id: Annotated[
        str,
        Path(description="Post id (decimal string).", json_schema_extra={"pattern": ID_PATTERN}),
    ],
) -> int:
    return _positive_id(post_id, "post")


async def valid_key_id(
    key_id: Annotated[
        str,
        Path(description="API key id (decimal string).", json_schema_extra={"pattern": ID_PATTERN}),
    ],
) -> int:
    return _positive_id(key_id, "API key")


ProxyDep = Annotated[Proxy, Depends(get_proxy)]
TokensDep = Annotated[TokenIssuer, Depends(get_tokens)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AddressLimited = Depends(limit_by_address)
Username = Annotated[str, Depends(valid_username)]
PostId = Annotated[int, Depends(valid_post_id)]
ApiKeyId = Annotated[int, Depends(valid_key_id)]
Ranking = Annotated[
    Literal["chronological", "ranked"],
    Query(description="chronological (newest first) or ranked (recency, engagement, affinity)."),
]
