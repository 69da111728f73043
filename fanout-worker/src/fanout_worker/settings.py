"""The fanout worker's knobs, read once from the environment (upper-case names)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from feedline_shared.settings import ServiceSettings

DAY_SECONDS = 86_400


class Settings(ServiceSettings):
    service_name: str = "fanout-worker"
    #: Port of the health/metrics HTTP server (the worker serves no other routes).
    port: int = 8004

    #: Where follower ids and follower counts come from.
    user_service_url: str = "http://127.0.0.1:8001"
    #: Where a followee's recent posts come from (follow/unfollow merges).
    post_service_url: str = "http://127.0.0.1:8002"

    #: Entries kept per home timeline; must match feed-service's value.
    timeline_cap: int = Field(default=800, ge=1, le=1000)
    #: A timeline unread for this long lapses and is skipped by fan-out (inactive users).
    timeline_ttl_days: int = Field(default=30, ge=1)
    #: Authors with more followers are not fanned out; feed-service merges them at read time.
    celebrity_follower_threshold: int = Field(default=20_000, ge=0)
    #: Follower ids per page; one page is written per message (fair fan-out).
    fanout_chunk_size: int = Field(default=5000, ge=1, le=5000)
    #: Unacknowledged messages in flight on the events queue (they are handled concurrently).
    events_prefetch: int = Field(default=32, ge=1)
    #: Unacknowledged messages in flight on the chunks queue; small so big fan-outs stay polite.
    chunks_prefetch: int = Field(default=2, ge=1)
    #: Back-off before each retry, in ms, comma separated; later retries reuse the last delay.
    #: The defaults ride out about an hour of a dependency being down before a message is
    #: dead-lettered (a dead post.created would need a replay to reach built timelines).
    retry_delays_ms: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [1000, 5000, 30000, 120000, 600000]
    )
    #: Deliveries of one message before it goes to the dead-letter queue.
    max_attempts: int = Field(default=10, ge=1)
    #: How often the queue depth gauges are refreshed.
    queue_depth_interval_seconds: float = Field(default=5.0, gt=0)
    #: How long a stopping worker waits for in-flight messages before closing anyway.
    shutdown_timeout_seconds: float = Field(default=30.0, gt=0)
    #: How long applied non-idempotent events (likes) are remembered for deduplication.
    dedupe_ttl_seconds: int = Field(default=7 * DAY_SECONDS, ge=1)

    @field_validator("retry_delays_ms", mode="before")
    @classmethod
    def _split_delays(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(" ", "").split(",") if part]
        return value

    @field_validator("retry_delays_ms")
    @classmethod
    def _positive_delays(cls, value: list[int]) -> list[int]:
        if not value or any(delay <= 0 for delay in value):
            raise ValueError("RETRY_DELAYS_MS needs at least one positive delay")
        return value

    @property
    def timeline_ttl_seconds(self) -> int:
        return self.timeline_ttl_days * DAY_SECONDS
