"""Fixed-window rate limits counted in Redis, failing open when Redis is unavailable.

The same script call also refuses a subject that carries a refusal marker (a deleted account),
so that check costs no round trip of its own.
"""

from __future__ import annotations

import logging
import math
import time

from prometheus_client import Counter
from redis.exceptions import RedisError

from feedline_shared.problems import RateLimited, Unauthorized
from feedline_shared.redis import AnyRedis

logger = logging.getLogger(__name__)

KEY_PREFIX = "feedline:rl"

RATE_LIMITED = Counter(
    "feedline_gateway_rate_limited_total",
    "Requests refused with 429, by limit.",
    ["limit"],
)
RATE_LIMIT_FAIL_OPEN = Counter(
    "feedline_gateway_rate_limit_fail_open_total",
    "Requests served without a rate-limit check because Redis did not answer.",
    ["limit"],
)


# One command per request: the counter and its expiry are set together (a counter never
# outlives its window, even when the client goes away in between). KEYS[2], when given, is a
# marker whose presence refuses the request (-1) before anything is counted.
_HIT = """
if #KEYS > 1 and redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


def window_key(limit_name: str, subject: str, window: int) -> str:
    # The subject is the hash tag: a marker tagged the same way lives in the same cluster slot.
    return f"{KEY_PREFIX}:{limit_name}:{{{subject}}}:{window}"


class SubjectRefused(Unauthorized):
    """The subject's refusal marker is set: the credentials belong to a deleted account."""


class FixedWindowLimiter:
    """At most ``limit`` hits per ``window_seconds`` for one subject; ``limit`` 0 disables it."""

    def __init__(self, redis: AnyRedis, *, name: str, limit: int, window_seconds: int) -> None:
        self.redis = redis
        self.name = name
        self.limit = limit
        self.window_seconds = window_seconds
        self._hit = redis.register_script(_HIT)

    async def hit(
        self, subject: str, *, now: float | None = None, refused_by: str | None = None
    ) -> None:
        """Counts one request; raises ``RateLimited`` (429 with Retry-After) past the limit, and
        ``SubjectRefused`` (401) when the key ``refused_by`` exists (same slot as the subject)."""
        if self.limit <= 0 and refused_by is None:
            return
        moment = time.time() if now is None else now
        window = int(moment // self.window_seconds)
        keys = [window_key(self.name, subject, window)]
        if refused_by is not None:
            keys.append(refused_by)
        try:
            count = int(await self._hit(keys=keys, args=[self.window_seconds + 1]))
        except (RedisError, OSError, TimeoutError) as exc:
            # A limiter must not take the API down with it: serve, and make the gap visible.
            # (The services still refuse a deleted account's writes on their own.)
            RATE_LIMIT_FAIL_OPEN.labels(self.name).inc()
            logger.warning(
                "rate limit not checked: redis unavailable",
                extra={"limit": self.name, "error": type(exc).__name__},
            )
            return
        if count < 0:
            raise SubjectRefused("The account behind these credentials has been deleted")
        if 0 < self.limit < count:
            RATE_LIMITED.labels(self.name).inc()
            window_end = (window + 1) * self.window_seconds
            raise RateLimited(max(1, math.ceil(window_end - moment)))
