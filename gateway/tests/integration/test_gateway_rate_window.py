"""The fixed-window counter against real Redis: counts, limits and expires with its window."""

from __future__ import annotations

import asyncio

import pytest
from redis.crc import key_slot

from feedline_shared.caches import deleted_user_key
from feedline_shared.problems import RateLimited
from gateway.ratelimit import FixedWindowLimiter, SubjectRefused, window_key


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


@pytest.mark.parametrize("limit", [5, 0])
async def test_a_refusal_marker_refuses_before_counting_even_with_limits_off(
    redis, limit: int
) -> None:
    limiter = FixedWindowLimiter(redis, name="demo", limit=limit, window_seconds=60)
    now = 1_800_000_030.0
    subject = f"user:{4242 + limit}"
    marker = deleted_user_key(4242 + limit)
    key = window_key("demo", subject, int(now // 60))
    try:
        await limiter.hit(subject, now=now, refused_by=marker)
        counted = await redis.get(key)
        await redis.set(marker, "1")
        with pytest.raises(SubjectRefused) as refused:
            await limiter.hit(subject, now=now, refused_by=marker)
        assert refused.value.status == 401
        assert await redis.get(key) == counted  # a refused request is not counted
        # Without the marker named (API keys), the same subject is served.
        if limit:
            await limiter.hit(subject, now=now)
    finally:
        await redis.delete(marker, key)


def test_the_marker_shares_the_hash_slot_of_the_subjects_window() -> None:
    assert key_slot(deleted_user_key(7).encode()) == key_slot(
        window_key("principal", "user:7", 123).encode()
    )


async def test_checks_made_in_one_turn_share_one_pipeline_and_count_exactly(
    redis, monkeypatch
) -> None:
    limiter = FixedWindowLimiter(redis, name="demo", limit=30, window_seconds=60)
    now = 1_800_000_030.0
    key = window_key("demo", "user:77", int(now // 60))
    other_key = window_key("demo", "user:78", int(now // 60))
    pipelines = 0
    make_pipeline = redis.pipeline

    def counted_pipeline(*args, **kwargs):
        nonlocal pipelines
        pipelines += 1
        return make_pipeline(*args, **kwargs)

    monkeypatch.setattr(redis, "pipeline", counted_pipeline)
    try:
        outcomes = await asyncio.gather(
            *(limiter.hit("user:77", now=now) for _ in range(50)), return_exceptions=True
        )
        assert pipelines == 1
        assert outcomes[:30] == [None] * 30
        assert all(isinstance(o, RateLimited) for o in outcomes[30:])
        assert await redis.get(key) == b"50"
        # A check whose request went away leaves the others of its turn answered.
        first = asyncio.ensure_future(limiter.hit("user:78", now=now))
        second = asyncio.ensure_future(limiter.hit("user:78", now=now))
        await asyncio.sleep(0)
        first.cancel()
        await second
        assert await redis.get(other_key) == b"2"
    finally:
        await redis.delete(key, other_key)


async def test_checks_go_on_counting_after_redis_forgets_its_scripts(redis) -> None:
    limiter = FixedWindowLimiter(redis, name="demo", limit=5, window_seconds=60)
    now = 1_800_000_030.0
    key = window_key("demo", "user:79", int(now // 60))
    try:
        await limiter.hit("user:79", now=now)
        await redis.script_flush()
        await asyncio.gather(*(limiter.hit("user:79", now=now) for _ in range(3)))
        assert await redis.get(key) == b"4"
    finally:
        await redis.delete(key)
