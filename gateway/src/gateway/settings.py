"""The gateway's knobs, read once from the environment (names in upper case)."""

from __future__ import annotations

from pydantic import Field, model_validator

from feedline_shared.app import DEFAULT_MAX_BODY_BYTES
from feedline_shared.caches import DELETED_USER_MARKER_SECONDS
from feedline_shared.settings import DEFAULT_JWT_SECRET, ServiceSettings

MIN_PRODUCTION_SECRET_LENGTH = 32


class Settings(ServiceSettings):
    service_name: str = "gateway"
    port: int = 8000

    # Base URLs of the services the public routes are forwarded to.
    user_service_url: str = "http://127.0.0.1:8001"
    post_service_url: str = "http://127.0.0.1:8002"
    feed_service_url: str = "http://127.0.0.1:8003"

    # HS256 signing key of the access tokens; production refuses the development value.
    jwt_secret: str = DEFAULT_JWT_SECRET
    # Lifetime of an access token; clients log in again after it. At most as long as a deleted
    # account's marker lasts, which is what refuses the account's tokens.
    jwt_ttl_seconds: int = Field(default=3600, ge=60, le=DELETED_USER_MARKER_SECONDS)
    # `iss` and `aud` claims, minted and required on every token.
    jwt_issuer: str = "feedline"
    jwt_audience: str = "feedline-api"
    # Clock skew tolerated when checking `exp`/`iat` of a token.
    jwt_leeway_seconds: int = Field(default=5, ge=0)

    # Fixed-window length shared by both rate limits.
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    # Requests per window for one authenticated principal (a user, or one API key); 0 disables.
    rate_limit_per_principal: int = Field(default=600, ge=0)
    # Requests per window from one client address to /auth/register and /auth/token; 0 disables.
    rate_limit_per_address: int = Field(default=20, ge=0)

    # Largest request body accepted; larger ones are refused with 413 before they are read.
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1)
    # Pooled connections to the services (the one internal client of this process).
    upstream_max_connections: int = Field(default=200, ge=1)

    @model_validator(mode="after")
    def _refuse_weak_jwt_secret_in_production(self) -> Settings:
        if self.environment == "production":
            if self.jwt_secret == DEFAULT_JWT_SECRET:
                raise ValueError("JWT_SECRET must be set to a secret value in production")
            if len(self.jwt_secret) < MIN_PRODUCTION_SECRET_LENGTH:
                raise ValueError(
                    f"JWT_SECRET must be at least {MIN_PRODUCTION_SECRET_LENGTH} characters "
                    "in production"
                )
        return self
