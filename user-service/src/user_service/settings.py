"""user-service knobs, read once from the environment (names in upper case)."""

from __future__ import annotations

from pydantic import Field

from feedline_shared.settings import DatabaseSettings


class Settings(DatabaseSettings):
    service_name: str = "user-service"
    port: int = 8001

    # The service's own role on the development database; its search_path is set to DB_SCHEMA.
    database_url: str = "postgresql+asyncpg://feedline_users:feedline@127.0.0.1:5432/feedline"
    # The schema this service owns. The models and migrations are written for `users`; the
    # setting drives the connection's search_path and where Alembic keeps its version table.
    db_schema: str = "users"

    # post-service answers posts_count for profiles; it is optional (null when it is down).
    post_service_url: str = "http://127.0.0.1:8002"
    # A profile read waits at most this long for post-service before answering posts_count null.
    post_counts_timeout_seconds: float = 1.0

    # argon2id cost parameters for new password hashes (argon2-cffi's RFC 9106 "low memory"
    # defaults). Lower them only in tests: hashes made with other parameters still verify and are
    # upgraded on the next successful login.
    argon2_time_cost: int = 3
    argon2_memory_cost_kib: int = 65536
    argon2_parallelism: int = 4

    # API key verification records last_used_at at most this often per key, so a busy key does
    # not turn every authenticated request into a row update.
    api_key_touch_interval_seconds: int = 60

    # The fanout worker's and feed-service's CELEBRITY_FOLLOWER_THRESHOLD: when an account's
    # follower peak first passes it, its followers' cached follow sets are dropped, so their
    # feeds merge its (no longer fanned-out) posts at read time from the next read on.
    celebrity_follower_threshold: int = Field(default=20_000, ge=0)

    # The outbox relay also polls this often in case a NOTIFY was missed.
    outbox_poll_interval_seconds: float = 1.0
