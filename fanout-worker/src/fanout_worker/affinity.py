"""Affinity counters (``author_id → likes given``) kept from like events, applied exactly once.

HINCRBY is not idempotent and events arrive at least once, so one script records the event id
with SET NX and increments only when that record is new. Both keys carry the liker's hash tag.
"""

from __future__ import annotations

from fanout_worker.keys import affinity_key, applied_event_key
from feedline_shared.redis import AnyRedis

# KEYS: applied-event marker, affinity hash. ARGV: marker ttl (s), author id, delta.
# A counter that falls to zero or below is dropped: the ranked feed reads a missing one as 0.
_APPLY = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return -1 end
local value = redis.call('HINCRBY', KEYS[2], ARGV[2], ARGV[3])
if value <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
return 1
"""


class AffinityStore:
    def __init__(self, redis: AnyRedis, *, dedupe_ttl_seconds: int) -> None:
        self.redis = redis
        self.dedupe_ttl_seconds = dedupe_ttl_seconds
        self._apply = redis.register_script(_APPLY)

    async def add(self, user_id: int, author_id: int, delta: int, event_id: str) -> bool:
        """Adds ``delta`` to the user's affinity for the author; False if already applied."""
        keys = [applied_event_key(str(user_id), event_id), affinity_key(user_id)]
        applied = await self._apply(keys=keys, args=[self.dedupe_ttl_seconds, author_id, delta])
        return int(applied) == 1

    async def get(self, user_id: int, author_id: int) -> int:
        value = await self.redis.hget(affinity_key(user_id), str(author_id))
        return int(value or 0)
