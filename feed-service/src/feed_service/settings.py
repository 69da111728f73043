"""The feed-service's knobs, read once from the environment (upper-case names)."""

from __future__ import annotations

from pydantic import Field

from feedline_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "feed-service"
    port: int = 8003

    # Where user-service answers (the follow set with follower counts).
    user_service_url: str = "http://127.0.0.1:8001"
    # Where post-service answers (post ids by author, post hydration).
    post_service_url: str = "http://127.0.0.1:8002"

    # Entries kept per home timeline; must match the fanout worker's value.
    timeline_cap: int = Field(default=800, ge=1)
    # A timeline not read for this long lapses and is rebuilt on the next read.
    timeline_ttl_days: int = Field(default=30, ge=1)
    # Authors with more followers than this are not fanned out; their posts merge at read time.
    celebrity_follower_threshold: int = Field(default=20_000, ge=0)
    # Prefix of the timeline, affinity and ranking-snapshot keys (docs/architecture.md); the
    # post and author caches shared with post-service and the worker always use `feedline`.
    redis_key_prefix: str = "feedline"
    # Cached posts and like states live this long after their last fill; likes and deletes
    # invalidate them at once, so this only bounds the memory of posts nobody reads.
    post_cache_ttl_seconds: int = Field(default=3600, ge=1)
    # A reader's cached follow set lives this long. Follows and unfollows invalidate it at once,
    # and so does the follow that takes a followee past the celebrity threshold (user-service,
    # then the worker from the event): this bounds how old its follower counts can be only if
    # both of those failed. Each active reader reloads its set from user-service once per TTL.
    follow_set_cache_ttl_seconds: int = Field(default=600, ge=1)
    # Author summaries read from Redis are also kept in process memory this long (0: off),
    # saving a Redis round trip on most pages; a renamed author shows this much later.
    author_local_cache_seconds: float = Field(default=2.0, ge=0)

    # How long one process may hold the cross-process rebuild lock of a timeline; other processes
    # wait at most this long for the timeline to appear before rebuilding it themselves.
    rebuild_lock_timeout_seconds: float = Field(default=5.0, gt=0)
    # How often a process waiting for another one's rebuild checks whether it is done.
    rebuild_poll_seconds: float = Field(default=0.01, gt=0)

    # Extra timeline ids read beyond the page size, so filtered items (unfollowed, deleted) rarely
    # force another timeline read; they are hydrated only when some of the page's own are filtered.
    feed_overfetch: int = Field(default=10, ge=0)
    # Read rounds per page before a short page is returned with a cursor to continue from.
    feed_max_rounds: int = Field(default=5, ge=1)

    # Ranked feed: how many of the newest chronological items are ranked on the first page.
    rank_window: int = Field(default=200, ge=1, le=1000)
    # Exponent of (likes + 1) in the ranking score.
    rank_like_weight: float = Field(default=1.0, ge=0)
    # Exponent of (affinity + 1): how much the viewer's past likes of an author count.
    rank_affinity_weight: float = Field(default=1.0, ge=0)
    # Exponent of (age_hours + 2): how fast a post's score decays with age.
    rank_gravity: float = Field(default=1.5, ge=0)
    # How long a ranked order stays pageable; later pages past this answer 400 (restart).
    rank_snapshot_ttl_seconds: int = Field(default=900, ge=1)

    @property
    def timeline_ttl_seconds(self) -> int:
        return self.timeline_ttl_days * 86_400
