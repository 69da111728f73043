"""Who is calling: a session JWT verified locally, or an API key verified by user-service."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson

from feedline_shared.caches import deleted_user_key
from feedline_shared.problems import DependencyUnavailable, Unauthorized
from gateway.proxy import Proxy
from gateway.ratelimit import FixedWindowLimiter
from gateway.routing import Upstream
from gateway.tokens import TokenIssuer

logger = logging.getLogger(__name__)

VERIFY_API_KEY_PATH = "/internal/api-keys/verify"
#: Longer values cannot be keys we issued; refusing them spares user-service the lookup.
MAX_API_KEY_LENGTH = 256


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user, through a session token or one of their API keys."""

    user_id: int
    api_key_id: int | None = None

    @property
    def rate_limit_subject(self) -> str:
        # Each API key gets its own budget, so one busy bot does not starve the owner's session.
        if self.api_key_id is not None:
            return f"key:{self.api_key_id}"
        return f"user:{self.user_id}"


class Authenticator:
    def __init__(self, tokens: TokenIssuer, proxy: Proxy, limiter: FixedWindowLimiter) -> None:
        self.tokens = tokens
        self.proxy = proxy
        self.limiter = limiter

    async def admit(self, *, bearer_token: str | None, api_key: str | None) -> Principal:
        """The authenticated caller, counted against its rate limit (401 or 429 otherwise)."""
        principal = await self.authenticate(bearer_token=bearer_token, api_key=api_key)
        # A session token outlives its account's deletion: the account's marker refuses it. (An
        # API key is verified by user-service on every request and goes with the account.)
        marker = deleted_user_key(principal.user_id) if principal.api_key_id is None else None
        await self.limiter.hit(principal.rate_limit_subject, refused_by=marker)
        return principal

    async def authenticate(self, *, bearer_token: str | None, api_key: str | None) -> Principal:
        """The caller behind the credentials; a bearer token wins when both are sent."""
        if bearer_token:
            return Principal(user_id=self.tokens.verify(bearer_token))
        if api_key:
            return await self.verify_api_key(api_key)
        raise Unauthorized("Missing credentials: send Authorization: Bearer <token> or X-API-Key")

    async def verify_api_key(self, api_key: str) -> Principal:
        # Asked on every request (no cache), so a revoked key is refused at once.
        if len(api_key) > MAX_API_KEY_LENGTH:
            raise Unauthorized("Invalid API key")
        response = await self.proxy.send(
            Upstream.USERS,
            "POST",
            VERIFY_API_KEY_PATH,
            body=orjson.dumps({"key": api_key}),
            headers={"content-type": "application/json"},
        )
        if response.status_code == 200:
            try:
                body = response.json()
                return Principal(user_id=int(body["user_id"]), api_key_id=int(body["key_id"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise DependencyUnavailable(
                    f"{Upstream.USERS} answered an unreadable key verification"
                ) from exc
        if response.status_code in (401, 403, 404, 422):
            raise Unauthorized("Invalid API key")
        logger.warning(
            "api key verification failed",
            extra={"dependency": str(Upstream.USERS), "status": response.status_code},
        )
        raise DependencyUnavailable(f"{Upstream.USERS} could not verify the API key")
