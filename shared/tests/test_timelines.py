import fnmatch
import random

import pytest

from feedline_shared import caches
from feedline_shared.timelines import (
    FAN_OUT_BATCH_USERS,
    MEMBER_BYTES,
    VersionedHashRead,
    decode_member,
    encode_member,
    meta_key,
    meta_key_pattern,
    timeline_key,
    timeline_key_pattern,
)


async def test_fan_out_skips_unbuilt_timelines_and_writes_built_ones(store):
    await store.rebuild(1, [], [])
    written = await store.fan_out([1, 2], 42)
    assert written == 1
    assert (await store.read(1, before=None, count=10)).post_ids == [42]
    assert not (await store.read(2, before=None, count=10)).built


async def test_order_is_exact_for_ids_beyond_double_precision(store):
    base = (1 << 62) + 1
    ids = [base, base + 1, base + 2]
    await store.rebuild(1, ids, [7])
    page = await store.read(1, before=None, count=10)
    assert page.post_ids == [base + 2, base + 1, base]
    assert page.merged_followees == {7}
    assert (await store.read(1, before=base + 2, count=10)).post_ids == [base + 1, base]


async def test_cap_keeps_newest_and_redelivery_does_not_duplicate(store):
    await store.rebuild(1, [1, 2, 3], [])
    for post_id in (4, 5, 6, 7, 7, 6):
        await store.fan_out([1], post_id)
    assert (await store.read(1, before=None, count=10)).post_ids == [7, 6, 5, 4, 3]


async def test_merge_needs_a_built_timeline_and_unmerge_removes(store):
    assert not await store.merge(1, 9, [10, 11])
    await store.rebuild(1, [1], [])
    assert await store.merge(1, 9, [10, 11])
    page = await store.read(1, before=None, count=10)
    assert page.post_ids == [11, 10, 1] and page.merged_followees == {9}
    await store.unmerge(1, 9, [10, 11])
    page = await store.read(1, before=None, count=10)
    assert page.post_ids == [1] and page.merged_followees == set()


async def test_timelines_expire_unless_read(store):
    await store.rebuild(1, [1], [2])
    ttl = await store.redis.pttl(store.timeline_key(1))
    assert 0 < ttl <= 60_000
    assert 0 < await store.redis.pttl(store.meta_key(1)) <= 60_000


def test_members_are_complements_so_newer_ids_sort_first():
    ids = [0, 1, 2, 255, 256, (1 << 62) + 1, (1 << 64) - 2, (1 << 64) - 1]
    members = [encode_member(i) for i in ids]
    assert all(len(m) == MEMBER_BYTES for m in members)
    assert [decode_member(m) for m in members] == ids
    assert members == sorted(members, reverse=True)
    assert encode_member(0) == b"\xff" * 8 and encode_member((1 << 64) - 1) == b"\x00" * 8


async def test_the_newest_post_is_the_head_of_the_list_in_redis(store):
    await store.rebuild(1, [10, 30, 20], [])
    await store.fan_out([1], 40)
    raw = await store.redis.lrange(store.timeline_key(1), 0, -1)
    assert [decode_member(m) for m in raw] == [40, 30, 20, 10]


async def test_posts_arriving_out_of_order_are_placed_by_id_once_each(store):
    await store.rebuild(1, [10, 30], [])
    for post_id in (20, 40, 20, 35, 10, 5, 40, 35):
        await store.fan_out([1], post_id)
    assert (await store.read(1, before=None, count=10)).post_ids == [40, 35, 30, 20, 10]
    assert await store.size(1) == 5


async def test_random_writes_keep_the_list_sorted_like_a_model(store):
    # Ids over the whole 64-bit range, so members differ in every byte, high bytes included.
    rng = random.Random(11)
    pool = [rng.randrange(1 << 64) for _ in range(12)] + [0, 1, (1 << 64) - 1]
    await store.rebuild(1, pool[:3], [])
    written = set(pool[:3])
    for _ in range(60):
        post_id = rng.choice(pool)
        if rng.random() < 0.2:
            merged = {post_id, rng.choice(pool)}
            await store.merge(1, 2, merged)
            written |= merged
        else:
            await store.fan_out([1], post_id)
            written.add(post_id)
        newest = sorted(written, reverse=True)
        raw = [decode_member(m) for m in await store.redis.lrange(store.timeline_key(1), 0, -1)]
        # The list is always the newest posts written, at least the cap of them, at most the
        # trim limit; readers see exactly the newest cap.
        assert raw == newest[: len(raw)]
        assert min(store.cap, len(written)) <= len(raw) <= store.trim_limit
        assert (await store.read(1, before=None, count=100)).post_ids == newest[: store.cap]


async def test_lists_grow_past_the_cap_only_until_the_next_trim_and_readers_never_see_it(store):
    await store.rebuild(1, [], [])
    lengths = []
    for post_id in range(1, 40):
        await store.fan_out([1], post_id)
        lengths.append(await store.redis.llen(store.timeline_key(1)))
        page = await store.read(1, before=None, count=100)
        assert page.post_ids == list(range(post_id, max(0, post_id - store.cap), -1))
        assert await store.size(1) == min(post_id, store.cap)
    assert max(lengths) == store.trim_limit > store.cap
    # Trimmed back to the cap each time the limit is passed, not one entry at a time.
    assert lengths.count(store.cap) > 1
    # A cursor at the last entry a reader sees ends the page there, whatever lies past it.
    assert (await store.read(1, before=39 - store.cap + 1, count=10)).post_ids == []


async def test_a_timeline_built_empty_gets_its_ttl_from_the_first_post(store):
    await store.rebuild(1, [], [])
    assert not await store.redis.exists(store.timeline_key(1))
    await store.fan_out([1], 3)
    assert 0 < await store.redis.pttl(store.timeline_key(1)) <= 60_000


async def test_cursor_is_exclusive_at_both_ends_and_count_limits(store):
    await store.rebuild(1, [10, 20, 30, 40, 50], [])

    async def page(before, count=10):
        return (await store.read(1, before=before, count=count)).post_ids

    assert await page(None) == [50, 40, 30, 20, 10]
    assert await page(None, count=2) == [50, 40]
    assert await page(51) == [50, 40, 30, 20, 10]
    assert await page(50) == [40, 30, 20, 10]
    assert await page(45, count=2) == [40, 30]
    assert await page(11) == [10]
    assert await page(10) == []
    assert await page(1) == []
    # Paging with the last id of each page walks the whole timeline exactly once.
    seen, before = [], None
    while ids := await page(before, count=2):
        seen += ids
        before = ids[-1]
    assert seen == [50, 40, 30, 20, 10]


async def test_rebuild_and_merge_keep_the_newest_cap(store):
    await store.rebuild(1, [9, 1, 8, 2, 7, 3, 6, 4, 5, 5], [])
    assert (await store.read(1, before=None, count=10)).post_ids == [9, 8, 7, 6, 5]
    assert await store.merge(1, 3, [100, 0, 50])
    assert (await store.read(1, before=None, count=10)).post_ids == [100, 50, 9, 8, 7]


async def test_a_late_old_post_does_not_evict_newer_ones_from_a_full_timeline(store):
    await store.rebuild(1, [10, 20, 30, 40, 50], [])
    assert await store.fan_out([1], 5) == 1
    assert (await store.read(1, before=None, count=10)).post_ids == [50, 40, 30, 20, 10]
    await store.fan_out([1], 60)
    assert (await store.read(1, before=None, count=10)).post_ids == [60, 50, 40, 30, 20]
    assert await store.size(1) == 5


async def test_remove_is_idempotent(store):
    await store.rebuild(1, [1, 2, 3], [])
    await store.rebuild(2, [2, 4], [])
    await store.remove([1, 2, 3], [2, 99])
    await store.remove([1, 2, 3], [2])
    assert (await store.read(1, before=None, count=10)).post_ids == [3, 1]
    assert (await store.read(2, before=None, count=10)).post_ids == [4]


async def test_batched_fan_out_spans_script_calls_and_redelivery_is_idempotent(store):
    users = list(range(1, FAN_OUT_BATCH_USERS + 3))
    for user_id in users[1:]:
        await store.rebuild(user_id, [1, 2, 3, 4, 5], [])
    assert await store.fan_out(users, 6) == len(users) - 1
    assert await store.fan_out(users, 6) == len(users) - 1
    for user_id in (users[1], users[FAN_OUT_BATCH_USERS], users[-1]):
        assert (await store.read(user_id, before=None, count=10)).post_ids == [6, 5, 4, 3, 2]
    assert not (await store.read(users[0], before=None, count=10)).built


async def test_fan_out_reloads_its_script_after_a_flush_and_asks_nothing_first(store):
    users = list(range(1, FAN_OUT_BATCH_USERS + 3))
    for user_id in users:
        await store.rebuild(user_id, [1, 2], [])
    await store.redis.script_flush()
    # Every batch of the pipeline meets NOSCRIPT; all are written once the script is loaded.
    assert await store.fan_out(users, 3) == len(users)
    await store.redis.config_resetstat()
    assert await store.fan_out(users, 4) == len(users)
    stats = await store.redis.info("commandstats")
    assert "cmdstat_script|exists" not in stats and "cmdstat_script|load" not in stats
    assert stats["cmdstat_evalsha"]["calls"] == 2
    for user_id in (users[0], users[-1]):
        assert (await store.read(user_id, before=None, count=10)).post_ids == [4, 3, 2, 1]


async def test_the_single_key_script_of_the_cluster_path_matches_the_batch(store):
    store.cluster = True  # the per-user EVAL the cluster path sends runs on one server too
    await store.rebuild(1, [1, 2, 3, 4, 5], [])
    for post_id in (6, 7, 7, 0):
        assert await store.fan_out([1, 2], post_id) == 1
    assert (await store.read(1, before=None, count=10)).post_ids == [7, 6, 5, 4, 3]
    assert not (await store.read(2, before=None, count=10)).built
    assert 0 < await store.redis.pttl(store.timeline_key(1)) <= 60_000


async def test_keys_of_the_old_format_are_ignored_and_the_timeline_rebuilt(store):
    redis = store.redis
    old_keys = [("t:tl:{1}", "t:tlm:{1}"), ("t:htl:{1}", "t:htlm:{1}")]
    # The earlier formats: sorted sets of (uncomplemented, then complemented) members beside a
    # "built" hash.
    for old_timeline, old_meta in old_keys:
        await redis.zadd(old_timeline, {i.to_bytes(8, "big"): 0 for i in (1, 2, 3)})
        await redis.hset(old_meta, mapping={"built": "1", "f:7": "1"})
        assert {store.timeline_key(1), store.meta_key(1)}.isdisjoint({old_timeline, old_meta})
    assert store.timeline_key(1) == timeline_key(1, "t") == "t:hl:{1}"
    assert store.meta_key(1) == meta_key(1, "t") == "t:hlm:{1}"

    assert not (await store.read(1, before=None, count=10)).built
    assert await store.fan_out([1], 4) == 0
    await store.rebuild(1, [1, 2, 3], [7])
    page = await store.read(1, before=None, count=10)
    assert page.built and page.post_ids == [3, 2, 1] and page.merged_followees == {7}
    for old_timeline, _ in old_keys:
        assert await redis.zcard(old_timeline) == 3, "the old keys are left to expire"


def test_key_patterns_tell_timelines_from_metadata():
    assert fnmatch.fnmatchcase(timeline_key(5), timeline_key_pattern())
    assert not fnmatch.fnmatchcase(meta_key(5), timeline_key_pattern())
    assert fnmatch.fnmatchcase(meta_key(5), meta_key_pattern())
    assert not fnmatch.fnmatchcase(timeline_key(5), meta_key_pattern())
    assert not fnmatch.fnmatchcase("feedline:tl:{5}", timeline_key_pattern())
    assert not fnmatch.fnmatchcase("feedline:htl:{5}", timeline_key_pattern())


async def test_a_versioned_hash_is_read_beside_the_timeline_in_the_same_call(store):
    await store.rebuild(1, [10, 20], [7])
    redis = store.redis
    absent = VersionedHashRead("t:following:{1}", ["v", "set"], 30, "111")
    page = await store.read(1, before=None, count=10, beside=absent)
    assert page.post_ids == [20, 10] and page.merged_followees == {7}
    # A hash without a version gets the seed (and a TTL), so a later fill can be checked.
    assert absent.row == [b"111", None]
    assert 0 < await redis.ttl("t:following:{1}") <= 30
    await redis.hset("t:following:{1}", mapping={"v": "5", "set": "[1]"})
    await redis.expire("t:following:{1}", 1000)
    present = VersionedHashRead("t:following:{1}", ["v", "set"], 30, "222")
    await store.read(1, before=20, count=10, beside=present)
    assert present.row == [b"5", b"[1]"]
    # A TTL it already had is kept: reads do not extend a cached copy's life.
    assert await redis.ttl("t:following:{1}") > 30
    # An unbuilt timeline still answers the hash's row.
    other = VersionedHashRead("t:following:{2}", ["v", "set"], 30, "333")
    assert not (await store.read(2, before=None, count=10, beside=other)).built
    assert other.row == [b"333", None]


async def test_a_pages_posts_are_read_in_the_timelines_call_as_the_cache_reader_reads_them(
    store,
):
    big = (1 << 63) - 5
    ids = [9, 1_000_000_007, (1 << 53) + 1, big]
    await store.rebuild(1, ids, [7])
    redis = store.redis
    await redis.hset(caches.post_key(big), mapping={"v": "4", "body": "{}", "likes": "3"})
    await redis.hset(caches.post_key(9), mapping={"v": "8", "deleted": "1"})
    await redis.hset(caches.liked_key(1), mapping={"v": "2", str(big): "1"})
    seed = caches.version_seed()
    following = VersionedHashRead("t:following:{1}", ["v", "set"], 30, "111")
    prefetch = caches.PagePostsRead(viewer_id=1, count=3, ttl_seconds=60, seed=seed)
    page = await store.read(1, before=None, count=10, beside=following, posts=prefetch)
    assert page.post_ids == sorted(ids, reverse=True)
    assert following.row == [b"111", None]
    # The first three ids, exactly (beyond double precision too), as CacheReader reads them.
    assert prefetch.post_ids == page.post_ids[:3]
    rows, liked = await caches.CacheReader(redis, ttl_seconds=60).posts(prefetch.post_ids, 1)
    assert (prefetch.rows, prefetch.liked) == (rows, liked)
    assert prefetch.rows[0] == [b"4", b"{}", b"3", None]
    assert prefetch.rows[1][0] == seed.encode()  # absent: given the read's seed
    assert prefetch.liked == [b"2", b"1", None, None]
    assert prefetch.covering([prefetch.post_ids[1], big]) == (
        [prefetch.rows[1], prefetch.rows[0]],
        [b"2", None, b"1"],
    )
    assert prefetch.covering([9]) is None
    # A page smaller than the count, and an unbuilt timeline: nothing more, nothing less.
    short = caches.PagePostsRead(viewer_id=1, count=3, ttl_seconds=60, seed=seed)
    await store.read(1, before=1_000_000_007, count=10, posts=short)
    assert short.post_ids == [9] and short.rows[0][2:] == [None, b"1"]
    unbuilt = caches.PagePostsRead(viewer_id=2, count=3, ttl_seconds=60, seed=seed)
    assert not (await store.read(2, before=None, count=10, posts=unbuilt)).built
    assert unbuilt.post_ids == [] and unbuilt.covering([]) is None


@pytest.mark.parametrize(
    "post_id",
    [1, 9_999_999, 10_000_000, 65_536, 4_294_967_296, (1 << 53) + 1, 121_493_070_612_000_972],
)
async def test_the_timeline_script_decodes_every_id_exactly(store, post_id):
    await store.rebuild(1, [post_id, (1 << 64) - 2], [])
    prefetch = caches.PagePostsRead(viewer_id=1, count=2, ttl_seconds=60, seed="1")
    await store.read(1, before=None, count=2, posts=prefetch)
    assert prefetch.post_ids == [(1 << 64) - 2, post_id]
    # The like-state fields the script asked for are the decimal ids themselves.
    await store.redis.hset(caches.liked_key(1), mapping={str(post_id): "1"})
    again = caches.PagePostsRead(viewer_id=1, count=2, ttl_seconds=60, seed="1")
    await store.read(1, before=None, count=2, posts=again)
    assert again.liked[1:] == [None, b"1"]
