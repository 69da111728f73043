"""The fixed-window counter against real Redis: counts, limits and expires with its window."""

from __future__ import annotations

import pytest

from feedline_shared.problems import RateLimited
from gateway.ratelimit import FixedWindowLimiter, window_key


async def test_a_window_counts_hits_refuses_past_the_limit_and_expires(redis) -> None:
    limiter = FixedWindowLimiter(redis, name="demo", limit=2, window_seconds=60)
    now = 1_800_000_030.0
    key = window_key("demo", "user:1", int(now // 60))
    await limiter.hit("user:1", now=now)
    await limiter.hit("user:1", now=now)
    with pytest.raises(RateLimited):
        await limiter.hit("user:1", now=now)
    assert await redis.get(key) == b"3"
    assert 0 < await redis.ttl(key) <= 61
    # The next window starts from zero.
    await limiter.hit("user:1", now=now + 60)
    assert await redis.get(window_key("demo", "user:1", int(now // 60) + 1)) == b"1"
