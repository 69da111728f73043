"""The feed's own Prometheus series (HTTP latency comes from the shared middleware)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

FEED_REQUESTS = Counter(
    "feedline_feed_requests",
    "Feed pages served, by where the home timeline came from: hit, rebuild or degraded.",
    ["source"],
)
TIMELINE_READS = Counter(
    "feedline_feed_timeline_reads",
    "First timeline reads of a feed request: hit (built) or miss (rebuild needed). "
    "Hit ratio = hit / (hit + miss).",
    ["result"],
)
REBUILD_DURATION = Histogram(
    "feedline_feed_rebuild_duration_seconds",
    "Time to rebuild one home timeline from the databases.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
HYDRATION_CACHE = Counter(
    "feedline_feed_hydration_cache",
    "Post ids hydrated from the Redis post cache (hit) or fetched from post-service (miss). "
    "Hydration cache hit ratio = hit / (hit + miss).",
    ["result"],
)
# Counted on every read: the children are bound once (and both series exist from the start).
HYDRATION_HITS = HYDRATION_CACHE.labels("hit")
HYDRATION_MISSES = HYDRATION_CACHE.labels("miss")
FOLLOW_SET_CACHE = Counter(
    "feedline_feed_follow_set_cache",
    "Feed requests whose follow set came from Redis (hit) or from user-service (miss).",
    ["result"],
)
FOLLOW_SET_REFRESHES = Counter(
    "feedline_feed_follow_set_refreshes",
    "Cached follow sets past half their TTL refreshed in the background (ok, or skipped while "
    "user-service was unavailable).",
    ["result"],
)
HYDRATED_ITEMS = Histogram(
    "feedline_feed_hydration_items",
    "Post ids sent to post-service per hydration batch (cache misses).",
    buckets=(1, 5, 10, 20, 50, 100, 200, 500),
)
