"""Prometheus series of the fanout worker, all named ``feedline_fanout_*``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

EVENTS_CONSUMED = Counter(
    "feedline_fanout_events_total",
    "Messages consumed, by type and outcome (ok, retry, dead).",
    ["type", "outcome"],
)
TIMELINE_WRITES = Counter(
    "feedline_fanout_timeline_writes_total",
    "Home timelines written (op=add: built timelines given a post; op=remove: timelines purged).",
    ["op"],
)
FANOUT_DURATION = Histogram(
    "feedline_fanout_duration_seconds",
    "Time from a post's first fan-out page to its last chunk.",
    ["op"],
    buckets=DURATION_BUCKETS,
)
DELIVERY_LAG = Histogram(
    "feedline_fanout_delivery_lag_seconds",
    "Time from a post's creation to the last follower timeline written.",
    buckets=DURATION_BUCKETS,
)
QUEUE_DEPTH = Gauge(
    "feedline_fanout_queue_depth",
    "Messages ready in the worker's queues (refreshed periodically).",
    ["queue"],
)
MARK_SEEDS = Counter(
    "feedline_fanout_mark_seeds_total",
    "Times the worker found the timelines' high-water mark missing, at start or in a fan-out, "
    "and set it again (outcome: set; busy, another worker was at it; lapsed; failed).",
    ["outcome"],
)
