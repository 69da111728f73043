"""post-service settings: one object, read once from the environment (upper-case names)."""

from __future__ import annotations

from pydantic import Field

from feedline_shared.db import libpq_dsn
from feedline_shared.settings import DatabaseSettings


class Settings(DatabaseSettings):
    service_name: str = "post-service"
    port: int = 8002

    # The dev database; each service connects as its own role, whose schema is DB_SCHEMA.
    database_url: str = "postgresql+asyncpg://feedline_posts:feedline@127.0.0.1:5432/feedline"
    # Fixed by the architecture: the tables are declared in this schema (models.SCHEMA).
    db_schema: str = "posts"

    # Where user-service answers (author summaries, username lookups).
    user_service_url: str = "http://127.0.0.1:8001"
    # How long an author summary stays cached in Redis; the fanout worker also drops it on
    # user.updated, so this only bounds staleness when that event is missed.
    user_cache_ttl_seconds: int = Field(default=300, ge=1)

    # Largest request body accepted: /internal/posts/by-authors carries up to 10,000 string ids
    # (about 220 KB); public bodies are far smaller.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)

    # Run the outbox relay inside this process; turned off only by tests that drive relays.
    outbox_relay_enabled: bool = True
    # How long an Idempotency-Key is remembered: a retry within it returns the same post.
    idempotency_key_ttl_hours: int = Field(default=24, ge=1)
    # How often forgotten keys are purged.
    idempotency_purge_interval_seconds: int = Field(default=600, ge=1)
    # Relay fallback poll interval (it normally wakes on NOTIFY) and events per publish round.
    outbox_poll_interval_seconds: float = Field(default=1.0, gt=0)
    outbox_batch_size: int = Field(default=500, ge=1)

    @property
    def listen_dsn(self) -> str:
        """DATABASE_URL in plain libpq form, for the relay's LISTEN connection (asyncpg)."""
        return libpq_dsn(self.database_url)
