"""Redis keys the worker writes besides timelines and the post caches (docs/architecture.md,
"Redis keys").

Every key carries a hash tag so the keys one script touches land on one Redis Cluster slot.
"""

from __future__ import annotations

PREFIX = "feedline"


def affinity_key(user_id: int) -> str:
    return f"{PREFIX}:aff:{{{user_id}}}"


def applied_event_key(scope: str, event_id: str) -> str:
    """Marks an event as applied within ``scope`` (the hash tag) for deduplication."""
    return f"{PREFIX}:evt:{{{scope}}}:{event_id}"
