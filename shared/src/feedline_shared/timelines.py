"""Home timelines in Redis, shared by the fanout worker (writes) and feed-service (reads, rebuilds).

A timeline is a sorted set, all scored 0, whose members are post ids stored as their 64-bit
bitwise complement (``2**64 - 1 - post_id``) in 8 big-endian bytes. Redis orders equal scores
lexicographically, which for fixed-width big-endian integers is numeric order, exact for 64-bit
ids (a double score is not); the complement reverses it, so the NEWEST post sorts FIRST (rank 0)
and older posts have larger members. Why: a full timeline is a listpack of ~``cap`` entries, and
ZADD walks it from the head to find where a new member goes. Every fan-out write adds the newest
post, which now goes at the head after one comparison instead of at the tail after walking every
entry; the trim that keeps the newest ``cap`` removes ranks ``cap..-1`` at the tail, which Redis
seeks from the end. Reads go forwards from the head (ZRANGEBYLEX); cursors are exclusive
lexicographic bounds.

Beside it a metadata hash marks the timeline as built and records which followees' posts were
merged in. Fan-out writes only to built timelines: a timeline not read for ``ttl_seconds`` lapses
and is rebuilt from the databases on the next read, so inactive users cost no fan-out writes.
Both keys share the hash tag ``{user_id}``; every script touches one user's keys only, so this
works on Redis Cluster as on a single server.

The keys are ``<prefix>:htl:{<user_id>}`` and ``<prefix>:htlm:{<user_id>}``. An earlier format
(uncomplemented members, oldest first) lived under ``:tl:`` and ``:tlm:``; those keys are never
read, so a timeline left in that format is simply rebuilt on its next read, and the old keys
expire with their TTL.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from redis.asyncio.cluster import RedisCluster

from feedline_shared.caches import (
    POST_KEY_PREFIX,
    READ_POSTS_LUA,
    PagePostsRead,
    liked_key,
    split_post_rows,
)
from feedline_shared.redis import AnyRedis

MEMBER_BYTES = 8
_MEMBER_MAX = (1 << (8 * MEMBER_BYTES)) - 1
DEFAULT_PREFIX = "feedline"
FOLLOWEE_FIELD_PREFIX = "f:"
BUILT_FIELD = "built"

# Members sort newest first, so the new post is inserted at the head of the listpack, and the trim
# keeps ranks 0..cap-1 (the newest) by removing cap..-1 at the tail.

# KEYS: timeline, meta. ARGV: cap, member.
_FAN_OUT = """
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], 0, ARGV[2])
-- Ranks past the cap are the oldest; on a timeline within the cap this removes nothing.
redis.call('ZREMRANGEBYRANK', KEYS[1], tonumber(ARGV[1]), -1)
if redis.call('PTTL', KEYS[1]) < 0 then
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return 1
"""

# KEYS: timeline, meta, timeline, meta, … (pairs). ARGV: cap, member.
# The same write for a batch of users in one call: a single server only (keys span slots).
_FAN_OUT_BATCH = """
local cap = tonumber(ARGV[1])
local written = 0
for i = 1, #KEYS, 2 do
  local timeline, meta = KEYS[i], KEYS[i + 1]
  if redis.call('EXISTS', meta) == 1 then
    redis.call('ZADD', timeline, 0, ARGV[2])
    redis.call('ZREMRANGEBYRANK', timeline, cap, -1)
    if redis.call('PTTL', timeline) < 0 then
      local ttl = redis.call('PTTL', meta)
      if ttl > 0 then redis.call('PEXPIRE', timeline, ttl) end
    end
    written = written + 1
  end
end
return written
"""

# Users per batched script call: ~1 ms of Redis time each, short enough not to stall others.
FAN_OUT_BATCH_USERS = 500

# KEYS: timeline, meta.
# ARGV: cap, ttl_ms, now_ms, replace (1/0), n_followees, followees..., members...
# Members come oldest first, so each lands at the head of the listpack (see the module docstring).
# replace=1 rebuilds from scratch; replace=0 merges into a built timeline and is a no-op otherwise.
_WRITE = """
local cap = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local replace = ARGV[4] == '1'
local n_followees = tonumber(ARGV[5])
if replace then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[2], 'built', ARGV[3])
elseif redis.call('EXISTS', KEYS[2]) == 0 then
  return 0
end
for i = 6, 5 + n_followees do
  redis.call('HSET', KEYS[2], 'f:' .. ARGV[i], '1')
end
for i = 6 + n_followees, #ARGV do
  redis.call('ZADD', KEYS[1], 0, ARGV[i])
end
local size = redis.call('ZCARD', KEYS[1])
if size > cap then redis.call('ZREMRANGEBYRANK', KEYS[1], cap, -1) end
redis.call('PEXPIRE', KEYS[2], ttl)
if size > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""

# KEYS: timeline, meta[, a versioned hash][, the viewer's like state]. ARGV: lower bound, count,
# ttl_ms, how many of the page's first posts to read (0: none), '1' if a versioned hash is read,
# the posts' ttl, seed and key prefix ('' when none are read)[, the hash's version seed, ttl,
# field count and fields (the version field first)]. Returns the meta hash's field names, the
# page's members, the hash's row and the posts' rows (each false when not read). Older ids have
# larger members, so the page starts just past the lower bound. Reading posts is for a single
# Redis only: their keys are built from the members, whose complemented 64-bit ids are decoded
# here in exact steps.
_READ = (
    READ_POSTS_LUA
    + """
local function id_of(member)
  local b1, b2, b3, b4, b5, b6, b7, b8 = string.byte(member, 1, 8)
  -- The id is the member's complement, as four 16-bit words w3..w0.
  local w3 = 65535 - (b1 * 256 + b2)
  local w2 = 65535 - (b3 * 256 + b4)
  local w1 = 65535 - (b5 * 256 + b6)
  local w0 = 65535 - (b7 * 256 + b8)
  -- w3 * 2^48 + w2 * 2^32 + w1 * 2^16 + w0 in base-10^7 limbs: every product and sum stays
  -- below 2^53, so Lua's doubles hold each exactly.
  local l0 = w3 * 6710656 + w2 * 4967296 + w1 * 65536 + w0
  local l1 = w3 * 8147497 + w2 * 429
  local l2 = w3 * 2
  local carry = math.floor(l0 / 10000000)
  l0 = l0 - carry * 10000000
  l1 = l1 + carry
  carry = math.floor(l1 / 10000000)
  l1 = l1 - carry * 10000000
  l2 = l2 + carry
  if l2 > 0 then return string.format('%d%07d%07d', l2, l1, l0) end
  if l1 > 0 then return string.format('%d%07d', l1, l0) end
  return string.format('%d', l0)
end
local names = redis.call('HKEYS', KEYS[2])
local members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local row = false
local next_arg = 9
if ARGV[5] == '1' then
  local fields = tonumber(ARGV[next_arg + 2])
  redis.call('HSETNX', KEYS[3], ARGV[next_arg + 3], ARGV[next_arg])
  redis.call('EXPIRE', KEYS[3], ARGV[next_arg + 1], 'NX')
  row = redis.call('HMGET', KEYS[3], unpack(ARGV, next_arg + 3, next_arg + 2 + fields))
end
local posts = false
local wanted = tonumber(ARGV[4])
if wanted > 0 and #names > 0 then
  local ids = {}
  for i = 1, math.min(wanted, #members) do ids[i] = id_of(members[i]) end
  posts = read_posts(ids, KEYS[#KEYS], ARGV[6], ARGV[7], ARGV[8], {})
end
return {names, members, row, posts}
"""
)

# KEYS: timeline, meta. ARGV: followee, members...
_UNMERGE = """
redis.call('HDEL', KEYS[2], 'f:' .. ARGV[1])
for i = 2, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
return 1
"""


def encode_member(post_id: int) -> bytes:
    """The sorted-set member of ``post_id``: its complement, so newer ids sort first."""
    return (_MEMBER_MAX - post_id).to_bytes(MEMBER_BYTES, "big")


def decode_member(member: bytes) -> int:
    return _MEMBER_MAX - int.from_bytes(member, "big")


def timeline_key(user_id: int, prefix: str = DEFAULT_PREFIX) -> str:
    """The home timeline's sorted set."""
    return f"{prefix}:htl:{{{user_id}}}"


def meta_key(user_id: int, prefix: str = DEFAULT_PREFIX) -> str:
    """The timeline's metadata hash; its existence means "built"."""
    return f"{prefix}:htlm:{{{user_id}}}"


def timeline_key_pattern(prefix: str = DEFAULT_PREFIX) -> str:
    """A SCAN/KEYS glob matching every home timeline (and no metadata hash)."""
    return f"{prefix}:htl:*"


def meta_key_pattern(prefix: str = DEFAULT_PREFIX) -> str:
    """A SCAN/KEYS glob matching every timeline metadata hash."""
    return f"{prefix}:htlm:*"


@dataclass(slots=True)
class VersionedHashRead:
    """A versioned cache hash (:mod:`feedline_shared.caches`) to read beside a timeline: given
    its version ``seed`` if it has none, then ``fields`` (the version field first) into ``row``."""

    key: str
    fields: Sequence[str]
    ttl_seconds: int
    seed: str
    row: list[bytes | None] = field(default_factory=list)


@dataclass(slots=True)
class TimelinePage:
    """One read of a timeline: whether it is built, the post ids, and whose posts it holds."""

    built: bool
    post_ids: list[int] = field(default_factory=list)
    merged_followees: set[int] = field(default_factory=set)


class TimelineStore:
    def __init__(
        self,
        redis: AnyRedis,
        *,
        cap: int = 800,
        ttl_seconds: int = 30 * 86_400,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self.redis = redis
        self.cap = cap
        self.ttl_ms = ttl_seconds * 1000
        self.prefix = prefix
        self.cluster = isinstance(redis, RedisCluster)
        self._fan_out = redis.register_script(_FAN_OUT)
        self._fan_out_batch = redis.register_script(_FAN_OUT_BATCH)
        self._write = redis.register_script(_WRITE)
        self._unmerge = redis.register_script(_UNMERGE)
        self._read = redis.register_script(_READ)

    def timeline_key(self, user_id: int) -> str:
        return timeline_key(user_id, self.prefix)

    def meta_key(self, user_id: int) -> str:
        return meta_key(user_id, self.prefix)

    def _keys(self, user_id: int) -> list[str]:
        return [self.timeline_key(user_id), self.meta_key(user_id)]

    async def fan_out(self, user_ids: Sequence[int], post_id: int) -> int:
        """Adds one post to each built timeline among ``user_ids`` in one pipeline.

        Returns how many timelines were written; unbuilt (inactive) ones are skipped.
        """
        if not user_ids:
            return 0
        member = encode_member(post_id)
        if self.cluster:
            async with self.redis.pipeline(transaction=False) as pipe:
                for user_id in user_ids:
                    # redis-py refuses EVALSHA in a cluster pipeline (it cannot reload a script
                    # one node lacks mid-batch); EVAL carries the source, one trip per node.
                    pipe.eval(_FAN_OUT, 2, *self._keys(user_id), self.cap, member)
                results = await pipe.execute()
            return sum(1 for written in results if written == 1)
        # One script call per batch of users: the per-key work runs inside Redis instead of
        # being encoded command by command by the client, which is what bounds a pipeline.
        async with self.redis.pipeline(transaction=False) as pipe:
            for start in range(0, len(user_ids), FAN_OUT_BATCH_USERS):
                keys = [
                    key
                    for user_id in user_ids[start : start + FAN_OUT_BATCH_USERS]
                    for key in self._keys(user_id)
                ]
                await self._fan_out_batch(keys=keys, args=[self.cap, member], client=pipe)
            results = await pipe.execute()
        return sum(int(written) for written in results)

    async def remove(self, user_ids: Iterable[int], post_ids: Sequence[int]) -> None:
        """Removes posts from timelines (idempotent)."""
        members = [encode_member(p) for p in post_ids]
        if not members:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            count = 0
            for user_id in user_ids:
                pipe.zrem(self.timeline_key(user_id), *members)
                count += 1
            if count:
                await pipe.execute()

    async def rebuild(
        self, user_id: int, post_ids: Iterable[int], followee_ids: Iterable[int]
    ) -> None:
        """Replaces the timeline with ``post_ids`` and records ``followee_ids`` as merged."""
        await self._write_timeline(user_id, post_ids, followee_ids, replace=True)

    async def merge(self, user_id: int, followee_id: int, post_ids: Iterable[int]) -> bool:
        """Merges one followee's posts into a built timeline; False when it is not built."""
        return await self._write_timeline(user_id, post_ids, [followee_id], replace=False)

    async def unmerge(self, user_id: int, followee_id: int, post_ids: Iterable[int]) -> None:
        members = [encode_member(p) for p in post_ids]
        await self._unmerge(keys=self._keys(user_id), args=[followee_id, *members])

    async def _write_timeline(
        self,
        user_id: int,
        post_ids: Iterable[int],
        followee_ids: Iterable[int],
        *,
        replace: bool,
    ) -> bool:
        followees = [str(f) for f in followee_ids]
        newest = sorted(set(post_ids), reverse=True)[: self.cap]
        # Oldest first: each ZADD then inserts at the head of the listpack, after one comparison.
        members = [encode_member(p) for p in reversed(newest)]
        args: list[object] = [
            self.cap,
            self.ttl_ms,
            int(time.time() * 1000),
            "1" if replace else "0",
            len(followees),
            *followees,
            *members,
        ]
        written = await self._write(keys=self._keys(user_id), args=args)
        return written == 1

    async def read(
        self,
        user_id: int,
        *,
        before: int | None,
        count: int,
        beside: VersionedHashRead | None = None,
        posts: PagePostsRead | None = None,
    ) -> TimelinePage:
        """Newest-first post ids older than ``before`` (exclusive); refreshes the timeline's TTL.

        ``beside`` reads a versioned hash of the same user (same hash tag, so the same cluster
        slot) in the same call, into ``beside.row``: one command to encode and parse instead of
        one per step, which is most of what a read costs the client. ``posts`` (single Redis
        only; ignored on a cluster, where those keys live in other slots) reads the cached rows
        of the page's first ``posts.count`` posts in the same call too.
        """
        lower = b"(" + encode_member(before) if before is not None else b"-"
        keys = self._keys(user_id)
        prefetch = None if self.cluster else posts
        args: list[object] = [lower, count, self.ttl_ms, prefetch.count if prefetch else 0]
        args.append("1" if beside else "0")
        if prefetch:
            args += [prefetch.ttl_seconds, prefetch.seed, POST_KEY_PREFIX]
        else:
            args += ["", "", ""]
        if beside is not None:
            keys.append(beside.key)
            args += [beside.seed, beside.ttl_seconds, len(beside.fields), *beside.fields]
        if prefetch:
            keys.append(liked_key(prefetch.viewer_id))
        field_names, members, row, post_rows = await self._read(keys=keys, args=args)
        if beside is not None:
            beside.row = list(row)
        if not field_names:
            return TimelinePage(built=False)
        post_ids = [decode_member(m) for m in members]
        if prefetch and post_rows:
            prefetch.post_ids = post_ids[: prefetch.count]
            prefetch.rows, prefetch.liked = split_post_rows(post_rows, len(prefetch.post_ids))
        followees = {
            int(name[len(FOLLOWEE_FIELD_PREFIX) :])
            for raw in field_names
            if (name := raw.decode() if isinstance(raw, bytes) else raw).startswith(
                FOLLOWEE_FIELD_PREFIX
            )
        }
        return TimelinePage(built=True, post_ids=post_ids, merged_followees=followees)

    async def size(self, user_id: int) -> int:
        return int(await self.redis.zcard(self.timeline_key(user_id)))

    async def drop(self, user_id: int) -> None:
        await self.redis.delete(self.timeline_key(user_id))
        await self.redis.delete(self.meta_key(user_id))
