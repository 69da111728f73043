"""The versioned caches: fills lose every race with an invalidation; after-commit actions."""

import pytest

from feedline_shared import caches
from feedline_shared.db import Database, after_commit
from feedline_shared.settings import DatabaseSettings


async def fill(redis, key, version, values, *, max_fields=0):
    async with redis.pipeline(transaction=False) as pipe:
        caches.queue_fill(pipe, key, version, values, 60, max_fields=max_fields)
        results = await pipe.execute()
    return results[0] if results else None


async def read(redis, key, *fields):
    """What a reader does: give the hash a version if it has none, then read it."""
    async with redis.pipeline(transaction=False) as pipe:
        caches.queue_versioned_read(pipe, key, list(fields), 60)
        row = (await pipe.execute())[-1]
    return caches.version_of(row[0]), row[1:]


async def test_a_fill_read_before_an_invalidation_is_refused(redis):
    key = caches.post_key(1)
    read_version, _ = await read(redis, key, caches.LIKES)
    assert read_version is not None and 0 < await redis.ttl(key) <= 60
    await caches.invalidate_like(redis, 1, 7)  # a like commits while the reader fetches

    assert await fill(redis, key, read_version, {caches.LIKES: "0"}) == 0
    assert int(await redis.hget(key, caches.VERSION)) == int(read_version) + 1
    assert not await redis.hexists(key, caches.LIKES)
    again, _ = await read(redis, key, caches.LIKES)
    assert await fill(redis, key, again, {caches.LIKES: "1"}) == 1
    assert await redis.hget(key, caches.LIKES) == b"1"


async def test_a_hash_that_lost_its_version_refuses_fills_read_before(redis):
    key = caches.following_key(3)
    read_version, _ = await read(redis, key, caches.FOLLOW_SET)
    await redis.delete(key)  # a Redis that lost its data, or an expiry
    assert await fill(redis, key, read_version, {caches.FOLLOW_SET: "[]"}) == 0
    # An invalidation on the empty hash starts from a fresh random version, not a known one.
    await caches.invalidate_following(redis, 3)
    assert await fill(redis, key, read_version, {caches.FOLLOW_SET: "[]"}) == 0
    assert await fill(redis, key, None, {caches.FOLLOW_SET: "[]"}) is None


async def test_a_tombstone_refuses_every_fill(redis):
    key = caches.post_key(2)
    version, _ = await read(redis, key, caches.BODY)
    await fill(redis, key, version, {caches.BODY: "{}", caches.LIKES: "3"})
    await caches.invalidate_deletion(redis, 2)

    assert await redis.hget(key, caches.DELETED) == b"1"
    assert not await redis.hexists(key, caches.BODY)
    version, _ = await read(redis, key, caches.BODY)
    assert await fill(redis, key, version, {caches.BODY: "{}"}) == 0


async def test_an_invalidation_drops_only_the_changed_fields(redis):
    liked, _ = await read(redis, caches.liked_key(5), "10")
    await fill(redis, caches.liked_key(5), liked, {"10": "1", "11": "0"})
    follows, _ = await read(redis, caches.following_key(5), caches.FOLLOW_SET)
    await fill(redis, caches.following_key(5), follows, {caches.FOLLOW_SET: "[]"})
    await caches.invalidate_like(redis, 11, 5)
    await caches.invalidate_following(redis, 5)

    assert await redis.hgetall(caches.liked_key(5)) == {
        b"10": b"1",
        b"v": str(int(liked) + 1).encode(),
    }
    assert await redis.hgetall(caches.following_key(5)) == {b"v": str(int(follows) + 1).encode()}


async def test_a_hash_past_its_limit_starts_over_but_keeps_its_version(redis):
    key = caches.liked_key(6)
    version, _ = await read(redis, key, "1")
    assert await fill(redis, key, version, {"1": "0", "2": "0", "3": "1"}, max_fields=4) == 1
    assert await fill(redis, key, version, {"4": "1", "5": "1"}, max_fields=4) == 1

    assert await redis.hgetall(key) == {b"v": version.encode(), b"4": b"1", b"5": b"1"}


async def test_after_commit_actions_run_only_once_the_transaction_committed():
    database = Database(DatabaseSettings(service_name="after-commit-demo"))
    ran: list[str] = []

    async def record() -> None:
        ran.append("ran")

    async def failing() -> None:
        raise ConnectionError("redis is down")

    committed = database.session()
    session = await anext(committed)
    after_commit(session, failing)  # logged, never turns the committed change into an error
    after_commit(session, record)
    with pytest.raises(StopAsyncIteration):
        await anext(committed)
    assert ran == ["ran"]

    rolled_back = database.session()
    session = await anext(rolled_back)
    after_commit(session, record)
    with pytest.raises(ValueError):
        await rolled_back.athrow(ValueError("the handler failed"))
    assert ran == ["ran"]
    await database.dispose()


async def test_an_invalidation_is_attempted_again_right_after_one_failed(redis):
    from feedline_shared.cache_invalidation import CacheInvalidation

    database = Database(DatabaseSettings(service_name="invalidation-demo"))
    invalidation = CacheInvalidation(redis)

    async def commit_a_like(post_id: int) -> None:
        scope = database.session()
        session = await anext(scope)
        invalidation.like_changed(session, post_id, 7)
        with pytest.raises(StopAsyncIteration):
            await anext(scope)

    await redis.set(caches.post_key(40), b"not a hash")  # makes this invalidation fail
    await commit_a_like(40)  # the change stands; the failure is only logged
    await commit_a_like(41)  # a later change does not skip Redis after that failure
    assert await redis.hexists(caches.post_key(41), caches.VERSION)
    await database.dispose()
