"""Access tokens: HS256 JWTs minted at register/login and verified on every request."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from feedline_shared.problems import Unauthorized

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "aud")
MAX_USER_ID = 2**63 - 1
#: Verified tokens remembered per process; the map starts over when it is full.
MAX_REMEMBERED_TOKENS = 10_000


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int


class TokenIssuer:
    """Mints and verifies the gateway's access tokens with one pinned algorithm."""

    def __init__(
        self, secret: str, *, issuer: str, audience: str, ttl_seconds: int, leeway_seconds: int
    ) -> None:
        self._secret = secret
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self.leeway_seconds = leeway_seconds
        # token -> (user id, exp): a client sends the same token on every request, and its
        # signature and claims cannot change, so only the expiry is checked again.
        self._verified: dict[str, tuple[int, float]] = {}

    def mint(self, user_id: int, *, now: float | None = None) -> IssuedToken:
        issued_at = int(time.time() if now is None else now)
        claims = {
            "sub": str(user_id),
            "iat": issued_at,
            "exp": issued_at + self.ttl_seconds,
            "iss": self.issuer,
            "aud": self.audience,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._secret, algorithm=ALGORITHM)
        return IssuedToken(access_token=token, expires_in=self.ttl_seconds)

    def verify(self, token: str) -> int:
        """The user id the token was minted for; 401 for anything not minted by us and current."""
        remembered = self._verified.get(token)
        if remembered is not None:
            user_id, expires_at = remembered
            if time.time() <= expires_at + self.leeway_seconds:
                return user_id
            del self._verified[token]
        try:
            # The algorithm list is pinned: a token claiming `none`, HS512 or an asymmetric
            # algorithm is refused before its signature is even considered.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("Access token has expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid access token") from exc
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.isdigit():
            raise Unauthorized("Invalid access token")
        user_id = int(subject)
        if not 0 < user_id <= MAX_USER_ID:
            raise Unauthorized("Invalid access token")
        if len(self._verified) >= MAX_REMEMBERED_TOKENS:
            self._verified.clear()
        self._verified[token] = (user_id, float(claims["exp"]))
        return user_id
