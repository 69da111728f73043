"""The timelines' high-water mark: blind pushes only where no timeline can hold the post yet."""

import random

import pytest

from feedline_shared import timeline_mark
from feedline_shared.timeline_mark import mark_key, new_chain, seed_key
from feedline_shared.timelines import FAN_OUT_BATCH_USERS, decode_member, encode_member


async def entries(store, user_id):
    return [decode_member(m) for m in await store.redis.lrange(store.timeline_key(user_id), 0, -1)]


async def mark_of(store):
    value = await store.redis.get(mark_key(store.prefix))
    return None if value is None else (decode_member(value[:8]), value[8:].decode())


#: Newer than any post these tests write.
UNSEEN = 10**9


async def plant_unseen_head(store, *users):
    """Puts a newer post at the head of these timelines behind every writer's back, so the mark
    does not know it: a blind push lands above it, a write that reads the head below it."""
    for user in users:
        await store.redis.lpush(store.timeline_key(user), encode_member(UNSEEN))


async def pushed_blindly(store, user, post_id):
    first, second = (await entries(store, user))[:2]
    assert {first, second} == {post_id, UNSEEN}
    await store.redis.lrem(store.timeline_key(user), 1, encode_member(UNSEEN))
    return first == post_id


async def built(store, users, posts=(1,)):
    for user in users:
        await store.rebuild(user, list(posts), [])


async def test_a_claimed_fan_out_pushes_without_reading_heads_across_batches(store):
    users = list(range(1, 2 * FAN_OUT_BATCH_USERS + 10))
    await built(store, users)
    assert await store.seed_mark() == "set"
    chain = new_chain()
    probes = (users[0], users[FAN_OUT_BATCH_USERS], users[-1])
    await plant_unseen_head(store, *probes)
    await store.fan_out(users, 100, claim=chain)
    assert await mark_of(store) == (100, chain)
    for user in probes:
        assert await pushed_blindly(store, user, 100)
        assert await entries(store, user) == [100, 1]
    assert await entries(store, users[1]) == [100, 1]
    # A later page of the same fan-out (other followers) keeps pushing blindly.
    await built(store, [5000])
    await plant_unseen_head(store, 5000)
    await store.fan_out([5000], 100, claim=chain)
    assert await pushed_blindly(store, 5000, 100)


async def test_a_redelivered_page_reads_heads_and_ends_the_claim(store):
    await built(store, [1, 2, 3])
    assert await store.seed_mark() == "set"
    chain = new_chain()
    await store.fan_out([1, 2], 100, claim=chain)
    # The same page again, as a later delivery does it: without the claim.
    await store.fan_out([1, 2], 100)
    assert await mark_of(store) == (100, "")
    # The first delivery's chain no longer pushes blindly: its next page reads heads too.
    await plant_unseen_head(store, 3)
    await store.fan_out([2, 3], 100, claim=chain)
    assert not await pushed_blindly(store, 3, 100)
    for user in (1, 2, 3):
        assert await entries(store, user) == [100, 1]


async def test_a_second_copy_of_the_event_never_pushes_where_the_first_wrote(store):
    await built(store, [1, 2])
    assert await store.seed_mark() == "set"
    first, second = new_chain(), new_chain()
    await store.fan_out([1], 100, claim=first)
    await store.fan_out([1, 2], 100, claim=second)
    await store.fan_out([2], 100, claim=first)
    assert await entries(store, 1) == [100, 1]
    assert await entries(store, 2) == [100, 1]


async def test_a_rebuild_holding_a_post_before_its_fan_out_keeps_the_fan_out_from_repeating_it(
    store,
):
    await built(store, [1, 2])
    assert await store.seed_mark() == "set"
    # A follower's timeline is rebuilt from the database with post 100 before fan-out reaches it.
    await store.rebuild(2, [100, 1], [])
    assert await mark_of(store) == (100, "")
    await store.fan_out([1, 2], 100, claim=new_chain())
    assert await entries(store, 1) == [100, 1]
    assert await entries(store, 2) == [100, 1]
    # A merge does the same for a followee's post.
    await store.merge(1, 9, [200])
    await store.fan_out([1, 2], 200, claim=new_chain())
    assert await entries(store, 1) == [200, 100, 1]
    assert await entries(store, 2) == [200, 100, 1]


async def test_an_older_post_after_a_newer_one_is_placed_in_order(store):
    await built(store, [1])
    assert await store.seed_mark() == "set"
    chain = new_chain()
    await store.fan_out([1], 300, claim=chain)
    await store.fan_out([1], 200, claim=new_chain())
    assert await entries(store, 1) == [300, 200, 1]
    assert await mark_of(store) == (300, chain)


async def test_without_a_mark_writes_read_heads_until_it_is_seeded_from_the_newest_head(store):
    await built(store, [1, 2], posts=(5, 1))
    await store.rebuild(3, [], [])  # built empty: no list, only its metadata
    await store.redis.delete(mark_key(store.prefix))
    await store.fan_out([1], 50, claim=new_chain())
    assert not store.mark_present
    assert await entries(store, 1) == [50, 5, 1]
    await plant_unseen_head(store, 2)
    await store.fan_out([2], 55, claim=new_chain())
    assert not await pushed_blindly(store, 2, 55)
    await store.redis.lrem(store.timeline_key(2), 1, encode_member(55))
    assert await store.seed_mark() == "set"
    assert store.mark_present
    assert await store.seed_mark() == "present"
    assert await mark_of(store) == (50, "")
    await plant_unseen_head(store, 1)
    await store.fan_out([1, 2, 3], 60, claim=new_chain())
    assert await pushed_blindly(store, 1, 60)
    assert await entries(store, 1) == [60, 50, 5, 1]
    assert await entries(store, 2) == [60, 5, 1]
    assert await entries(store, 3) == [60]
    assert await store.redis.pttl(store.timeline_key(3)) > 0


async def test_seeding_an_empty_redis_lets_every_post_push_blindly(store):
    assert await store.seed_mark() == "set"
    await store.rebuild(1, [1], [])
    await plant_unseen_head(store, 1)
    await store.fan_out([1], 7, claim=new_chain())
    assert await pushed_blindly(store, 1, 7)
    assert await entries(store, 1) == [7, 1]


async def test_writes_during_seeding_raise_the_seed(store):
    """The seed's scan may pass a timeline before a newer post lands in it: the writer raises
    the seed, so the mark still covers that post."""
    await built(store, [1, 2], posts=(5,))
    keys = [mark_key(store.prefix), seed_key(store.prefix)]
    ttl = timeline_mark.SEED_TTL_MS
    redis = store.redis

    async def seed_around(token, write):
        assert await redis.eval(timeline_mark._SEED_START, 2, *keys, token, ttl) == 1
        timelines = [store.timeline_key(1), store.timeline_key(2)]
        assert await redis.eval(timeline_mark._SEED_STEP, 3, keys[1], *timelines, token, ttl)
        await write  # after the scan passed every timeline
        assert await redis.eval(timeline_mark._SEED_FINISH, 2, *keys, token) == 1
        assert not await redis.exists(keys[1])
        return await mark_of(store)

    assert await seed_around("a", store.fan_out([1], 70)) == (70, "")
    await redis.delete(keys[0])
    assert await seed_around("b", store.merge(2, 9, [80])) == (80, "")
    await redis.delete(keys[0])
    assert await seed_around("c", store.rebuild(1, [90], [])) == (90, "")
    # Another seeder's seed: this one leaves it alone and reports no mark.
    await redis.delete(keys[0])
    await redis.set(keys[1], encode_member(1) + b"other", px=ttl)
    assert await store.seed_mark() == "busy"
    assert await mark_of(store) is None


class RandomWriter:
    """Random writes of every kind through the store, with a model of what each timeline holds:
    fan-out pages (on a first delivery, under the post's chain, only followers that chain has not
    written: one fan-out's pages are disjoint; or as a later delivery, without a claim), merges,
    rebuilds, dropped timelines, and the mark lost (set again or not yet). No removals: they only
    make heads older, and the model would have to replay trims."""

    def __init__(self, store, seed: int) -> None:
        self.store = store
        self.rng = random.Random(seed)
        self.users = [1, 2, 3, 4, 5]
        self.built = {user: self.rng.random() < 0.8 for user in self.users}
        self.written: dict[int, set[int]] = {user: set() for user in self.users}
        self.chains: dict[int, tuple[str, set[int]]] = {}
        self.post_id = 10

    async def start(self) -> None:
        for user in self.users:
            if self.built[user]:
                await self.store.rebuild(user, [10], [])
                self.written[user] = {10}

    async def write(self, *, lose_mark: bool = True) -> None:
        rng, store = self.rng, self.store
        # Often the same post again (its next page, a redelivery, a rebuild that read it).
        post_id = self.post_id = self.post_id if rng.random() < 0.5 else rng.randrange(1, 80)
        action = rng.random() if lose_mark else rng.random() * 0.9
        if action < 0.55:
            page = rng.sample(self.users, rng.randrange(1, len(self.users) + 1))
            claim = None
            if rng.random() < 0.7:
                chain, done = self.chains.setdefault(post_id, (new_chain(), set()))
                page = [user for user in page if user not in done]
                done.update(page)
                claim = chain
            await store.fan_out(page, post_id, claim=claim)
            for user in page:
                if self.built[user]:
                    self.written[user].add(post_id)
        elif action < 0.7:
            user = rng.choice(self.users)
            merged = {post_id, rng.randrange(1, 80)}
            if await store.merge(user, 2, merged):
                self.written[user] |= merged
        elif action < 0.85:
            user = rng.choice(self.users)
            posts = set(rng.sample(range(1, 80), rng.randrange(0, 4)))
            await store.rebuild(user, posts, [])
            self.written[user], self.built[user] = posts, True
        elif action < 0.9:
            user = rng.choice(self.users)
            await store.drop(user)  # lapsed: unbuilt until its next read rebuilds it
            self.written[user], self.built[user] = set(), False
        else:
            await store.redis.delete(mark_key(store.prefix))
            if rng.random() < 0.5:
                assert await store.seed_mark() == "set"

    async def check(self) -> None:
        for user in self.users:
            raw = await entries(self.store, user)
            newest = sorted(self.written[user], reverse=True)
            # Sorted without repeats, only posts written; readers see exactly the newest cap
            # (past it, entries wait for the next trim and a merge may leave them there).
            assert raw == sorted(set(raw), reverse=True), (user, raw)
            assert set(raw) <= self.written[user]
            assert raw[: self.store.cap] == newest[: self.store.cap], (user, raw, newest)


@pytest.mark.parametrize("seed", [5, 11, 23])
async def test_random_writes_with_the_mark_keep_every_timeline_sorted_and_without_repeats(
    store, seed
):
    writer = RandomWriter(store, seed)
    await writer.start()
    assert await store.seed_mark() == "set"
    for _ in range(400):
        await writer.write()
        await writer.check()


@pytest.mark.parametrize("seed", [4, 14])
async def test_seeding_between_random_writes_yields_a_mark_no_timeline_passes(store, seed):
    """Random writes before, between and after each step of a seed's scan (one timeline per
    step, in a random order), then writes under the mark it set."""
    writer = RandomWriter(store, seed)
    await writer.start()
    keys = [mark_key(store.prefix), seed_key(store.prefix)]
    ttl = timeline_mark.SEED_TTL_MS
    redis = store.redis
    for _ in range(20):
        await redis.delete(keys[0])
        assert await redis.eval(timeline_mark._SEED_START, 2, *keys, "seeder", ttl) == 1
        timelines = [store.timeline_key(user) for user in writer.users]
        writer.rng.shuffle(timelines)
        for timeline in timelines:
            for _ in range(writer.rng.randrange(0, 4)):
                await writer.write(lose_mark=False)
            assert await redis.eval(timeline_mark._SEED_STEP, 2, keys[1], timeline, "seeder", ttl)
        assert await redis.eval(timeline_mark._SEED_FINISH, 2, *keys, "seeder") == 1
        for _ in range(30):
            await writer.write(lose_mark=False)
            await writer.check()
