"""The settings base every service extends: one class per service, read once from the env."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_INTERNAL_TOKEN = "feedline-dev-internal-token"
DEFAULT_JWT_SECRET = "feedline-dev-jwt-secret-change-me-in-production"


class ServiceSettings(BaseSettings):
    """Knobs common to every Feedline process.

    Each knob is an environment variable of the same name in upper case (``REDIS_URL``,
    ``INTERNAL_TOKEN`` …). Defaults work on one machine with the servers on their standard
    loopback ports; production mode refuses the development secrets.
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    service_name: str = "feedline"
    environment: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    #: One JSON line per HTTP request (method, path, route, status, duration, request id).
    access_log: bool = True
    host: str = "127.0.0.1"
    port: int = 8000

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_cluster: bool = False
    # Where Redis is only a cache (post and author caches): after it fails, skip it for this
    # long instead of paying a timeout on every request.
    redis_retry_after_seconds: float = Field(default=5.0, ge=0)
    # Allocations between young-generation garbage collections (Python's own default is 700).
    # A request allocates thousands of short-lived objects that reference counting frees anyway;
    # collecting less often cut the feed's p99 at ~75 % of peak from ~66-70 ms to ~46-48 ms in
    # `python -m bench --quick` (two runs each way), at the cost of cyclic garbage living longer.
    gc_gen0_threshold: int | None = Field(default=50_000, ge=1)
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    events_exchange: str = "feedline.events"

    internal_token: str = DEFAULT_INTERNAL_TOKEN
    internal_timeout_seconds: float = 5.0
    node_id: int | None = None

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> ServiceSettings:
        if self.environment == "production":
            if not self.internal_token or self.internal_token == DEFAULT_INTERNAL_TOKEN:
                raise ValueError("INTERNAL_TOKEN must be set to a secret value in production")
            if len(self.internal_token) < 32:
                raise ValueError("INTERNAL_TOKEN must be at least 32 characters in production")
        return self


class DatabaseSettings(ServiceSettings):
    """Settings of a service that owns a PostgreSQL schema."""

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/feedline"
    #: Read-only queries (feed rebuilds, lists) may go to a replica; empty means the primary.
    database_read_url: str = ""
    db_schema: str = "public"
    db_pool_size: int = 10
    db_max_overflow: int = 10
