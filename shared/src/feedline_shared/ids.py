"""Time-ordered 64-bit ids, unique across processes without coordination (the Instagram scheme).

Layout, most significant first: 41 bits of milliseconds since ``EPOCH_MS``, 10 bits of node id,
12 bits of a per-millisecond sequence. A newer id is always larger, so ids double as sort keys
and cursors. Each process needs its own node id: set ``NODE_ID`` (0–1023) per instance in a
deployment; left unset, one is derived from the host name and process id.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from datetime import UTC, datetime

EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NODE_BITS = 10
SEQUENCE_BITS = 12
MAX_NODE = (1 << NODE_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
MAX_ID = (1 << 63) - 1


def default_node_id() -> int:
    digest = hashlib.blake2b(f"{socket.gethostname()}:{os.getpid()}".encode(), digest_size=4)
    return int.from_bytes(digest.digest(), "big") & MAX_NODE


class IdGenerator:
    def __init__(self, node_id: int | None = None) -> None:
        node = default_node_id() if node_id is None else node_id
        if not 0 <= node <= MAX_NODE:
            raise ValueError(f"node id must be within 0..{MAX_NODE}")
        self.node_id = node
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def next_id(self) -> int:
        with self._lock:
            now = _now_ms()
            if now < self._last_ms:
                # The clock stepped back: stay on the last millisecond so ids stay ordered.
                now = self._last_ms
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:
                    while now <= self._last_ms:
                        now = _now_ms()
            else:
                self._sequence = 0
            self._last_ms = now
            return (
                ((now - EPOCH_MS) << (NODE_BITS + SEQUENCE_BITS))
                | (self.node_id << SEQUENCE_BITS)
                | self._sequence
            )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def id_timestamp(snowflake: int) -> datetime:
    millis = (snowflake >> (NODE_BITS + SEQUENCE_BITS)) + EPOCH_MS
    return datetime.fromtimestamp(millis / 1000, UTC)


def smallest_id_at(moment: datetime) -> int:
    """The smallest id issued at ``moment``: a bound for "created before" queries by id."""
    millis = max(int(moment.timestamp() * 1000) - EPOCH_MS, 0)
    return millis << (NODE_BITS + SEQUENCE_BITS)
