"""Home timelines in Redis, shared by the fanout worker (writes) and feed-service (reads, rebuilds).

A timeline is a Redis list of post ids, newest first, each stored as its 64-bit bitwise
complement (``2**64 - 1 - post_id``) in 8 big-endian bytes, so byte order of the members is id
order reversed (exact for 64-bit ids, which a double score is not). Why a list and not a sorted
set: a sorted set small enough to be compact (a listpack) makes every ZADD scan all its entries
for the member first, ~10 µs at the cap of 800, and that scan bounded fan-out. A list takes the
newest post at its head with LPUSH whatever its length and stores an entry in 10-13 bytes
(by ``list-max-listpack-size``; Feedline runs Redis with nodes of 64 entries, ~12.8 bytes per
entry, where that push, which moves the head node's bytes, cost Redis 9-32 % less than in 4 KB
nodes in five side-by-side runs, and those 3-34 % less than Redis's default 8 KB ones). It
holds the newest ``cap`` posts, and up to a sixteenth more between trims (readers see the newest
``cap`` only): one ``LTRIM`` back to the cap every so many writes costs Redis far less than
popping the oldest entry with each. The scripts keep the list sorted: a post newer than the head
(the fan-out case) is pushed at once; an older one (events out of order, or redelivered) is
placed by binary search, which also finds it already there, so every write is idempotent.
Where the high-water mark (:mod:`feedline_shared.timeline_mark`) shows no timeline can hold
the post yet, fan-out pushes it without reading the head at all.
Members are compared byte by byte, never with Lua's ``<`` (it collates by the server's locale).
Cursors are exclusive bounds found by the same search.

Beside it a metadata hash marks the timeline as built and records which followees' posts were
merged in. Fan-out writes only to built timelines: a timeline not read for ``ttl_seconds`` lapses
and is rebuilt from the databases on the next read, so inactive users cost no fan-out writes.
A built timeline with no posts has no list (Redis holds no empty list), only its metadata; one
with posts is known built from its list alone, which saves fan-out a command per follower.
Both keys share the hash tag ``{user_id}``; every script touches one user's keys only, so this
works on Redis Cluster as on a single server.

The keys are ``<prefix>:hl:{<user_id>}`` and ``<prefix>:hlm:{<user_id>}``. Earlier formats
(sorted sets under ``:tl:``/``:tlm:`` and ``:htl:``/``:htlm:``) are never read, so a timeline
left in one is simply rebuilt on its next read, and the old keys expire with their TTL.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

from feedline_shared.caches import (
    POST_KEY_PREFIX,
    READ_POSTS_LUA,
    PagePostsRead,
    liked_key,
    split_post_rows,
)
from feedline_shared.redis import AnyRedis
from feedline_shared.timeline_mark import (
    MARK_LUA,
    ORDER_LUA,
    MarkSeeding,
    mark_key,
    seed_key,
    seed_mark,
)

MEMBER_BYTES = 8
_MEMBER_MAX = (1 << (8 * MEMBER_BYTES)) - 1
DEFAULT_PREFIX = "feedline"
FOLLOWEE_FIELD_PREFIX = "f:"
BUILT_FIELD = "built"
_TIMELINE_KIND = "hl"
_META_KIND = "hlm"

# The list helpers every timeline script starts with.
_LIST_LUA = (
    ORDER_LUA
    + """
local function position(timeline, member, len)
  -- The index of the first entry not newer than member (len when every entry is newer).
  local low, high = 0, len
  while low < high do
    local middle = math.floor((low + high) / 2)
    if newer(call('LINDEX', timeline, middle), member) then
      low = middle + 1
    else
      high = middle
    end
  end
  return low
end
local function add(timeline, meta, member, cap, limit, head)
  -- Inserts member where it sorts unless present. head is the list's first entry (false when
  -- the list is empty); meta is needed only then, to give a new list its TTL. Trims the list
  -- back to the newest cap once it holds more than limit: trimming on every write would cost
  -- a command per write. Returns 1 if written.
  local size
  if not head or newer(member, head) then
    size = call('LPUSH', timeline, member)
  elseif head == member then
    return 0
  else
    local len = call('LLEN', timeline)
    local at = position(timeline, member, len)
    if at == len then
      if len >= cap then return 0 end
      size = call('RPUSH', timeline, member)
    else
      local pivot = call('LINDEX', timeline, at)
      if pivot == member then return 0 end
      size = call('LINSERT', timeline, 'BEFORE', pivot, member)
    end
  end
  if size == 1 then
    -- A new list (the timeline was built empty) lives as long as its metadata.
    local ttl = call('PTTL', meta)
    if ttl > 0 then call('PEXPIRE', timeline, ttl) end
  end
  if size > limit then call('LTRIM', timeline, 0, cap - 1) end
  return 1
end
local function into_empty(timeline, meta_of, user, member, cap, limit)
  -- A fan-out write to a timeline without entries: 1 when its metadata, meta_of(user), says
  -- it is built (and so it is written), else 0. A timeline whose list has entries is built: its
  -- metadata lives as long as the list (a lone list is an evicted one, which the next read
  -- rebuilds anyway), so only this case needs the metadata checked.
  local meta = meta_of(user)
  if call('EXISTS', meta) == 0 then return 0 end
  add(timeline, meta, member, cap, limit, false)
  return 1
end
local function fan_out(timeline, meta_of, user, member, high, low, cap, limit)
  -- The fan-out write to one user's timeline: 1 when it is built (and so written), else 0.
  -- high and low are member's halves, worked out once per script call; the head read is the
  -- one add needs.
  local head = call('LINDEX', timeline, 0)
  if not head then return into_empty(timeline, meta_of, user, member, cap, limit) end
  local head_high, head_low = halves(head)
  if before(high, low, head_high, head_low) then
    -- The usual case, a post newer than any there: add's first branch, without its checks.
    if call('LPUSH', timeline, member) > limit then call('LTRIM', timeline, 0, cap - 1) end
  else
    add(timeline, false, member, cap, limit, head)
  end
  return 1
end
local function fan_out_blind(timeline, meta_of, user, member, cap, limit)
  -- The same write of a member newer than every entry (timeline_mark says so): no head read,
  -- and LPUSHX, which pushes only onto a list with entries, tells the built ones at once.
  local size = call('LPUSHX', timeline, member)
  if size == 0 then return into_empty(timeline, meta_of, user, member, cap, limit) end
  if size > limit then call('LTRIM', timeline, 0, cap - 1) end
  return 1
end
"""
)

# KEYS: timeline, meta. ARGV: cap, trim limit, member.
_FAN_OUT = (
    _LIST_LUA
    + """
local function meta_of() return KEYS[2] end
local high, low = halves(ARGV[3])
return fan_out(KEYS[1], meta_of, nil, ARGV[3], high, low, tonumber(ARGV[1]), tonumber(ARGV[2]))
"""
)

# KEYS: none. ARGV: cap, trim limit, member, timeline key head, meta key head, user ids (comma
# separated), mark key, seed key, the fan-out's claim ('' for none). Returns how many timelines
# were written and whether the mark was there (1/0).
# The same write (and the same built check) for a batch of users in one call, for a single
# server only: the keys span slots, so the script builds them from the key heads (a key is its
# head, the user id and "}"). One argument instead of two keys per user is what the client has
# to encode, which was a third of the worker's time. When the mark lets it (timeline_mark), the
# write skips the head read (fan_out_blind), half of what each write cost Redis.
_FAN_OUT_BATCH = (
    _LIST_LUA
    + MARK_LUA
    + """
local cap, limit, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local timeline_head, meta_head = ARGV[4], ARGV[5]
local function meta_of(id) return meta_head .. id .. '}' end
local written = 0
local blind, marked = claim(ARGV[7], ARGV[8], member, ARGV[9])
if blind then
  for id in string.gmatch(ARGV[6], '%d+') do
    local timeline = timeline_head .. id .. '}'
    written = written + fan_out_blind(timeline, meta_of, id, member, cap, limit)
  end
else
  local high, low = halves(member)
  for id in string.gmatch(ARGV[6], '%d+') do
    local timeline = timeline_head .. id .. '}'
    written = written + fan_out(timeline, meta_of, id, member, high, low, cap, limit)
  end
end
return {written, marked and 1 or 0}
"""
)

# A timeline holds its newest cap posts and up to cap / TRIM_SLACK_SHARE older ones between trims.
TRIM_SLACK_SHARE = 16

# Users per batched script call: a few milliseconds of Redis time each, short enough not to stall
# other clients for long.
FAN_OUT_BATCH_USERS = 500

# KEYS: timeline, meta[, mark, seed (single server)].
# ARGV: cap, ttl_ms, now_ms, replace (1/0), n_followees, followees..., members...
# Members come newest first, at most cap of them, without repeats. replace=1 rebuilds from
# scratch; replace=0 merges into a built timeline and is a no-op otherwise. The mark (when given)
# learns the newest member written: it may be a post fan-out has not reached yet.
_WRITE = (
    _LIST_LUA
    + MARK_LUA
    + """
local cap = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local replace = ARGV[4] == '1'
local n_followees = tonumber(ARGV[5])
local first = 6 + n_followees
local merged = {}
local changed = replace
if replace then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[2], 'built', ARGV[3])
  for i = first, #ARGV do merged[#merged + 1] = ARGV[i] end
elseif redis.call('EXISTS', KEYS[2]) == 0 then
  return 0
else
  -- Both sequences are newest first: merge them, keeping the newest cap without repeats.
  local kept = redis.call('LRANGE', KEYS[1], 0, -1)
  local i, j = 1, first
  while #merged < cap and (i <= #kept or j <= #ARGV) do
    if j > #ARGV or (i <= #kept and newer(kept[i], ARGV[j])) then
      merged[#merged + 1] = kept[i]; i = i + 1
    elseif i <= #kept and kept[i] == ARGV[j] then
      merged[#merged + 1] = kept[i]; i = i + 1; j = j + 1
    else
      merged[#merged + 1] = ARGV[j]; j = j + 1; changed = true
    end
  end
  if changed then redis.call('DEL', KEYS[1]) end
end
for i = 6, 5 + n_followees do
  redis.call('HSET', KEYS[2], 'f:' .. ARGV[i], '1')
end
if changed and #merged > 0 then
  redis.call('RPUSH', KEYS[1], unpack(merged))
  if KEYS[4] then written_up_to(KEYS[3], KEYS[4], merged[1]) end
end
redis.call('PEXPIRE', KEYS[2], ttl)
if #merged > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""
)

# KEYS: timeline, meta[, a versioned hash][, the viewer's like state]. ARGV: cursor member ('' for
# the first page), count, ttl_ms, how many of the page's first posts to read (0: none), '1' if a
# versioned hash is read, the posts' ttl, seed and key prefix ('' when none are read), cap[, the
# hash's version seed, ttl, field count and fields (the version field first)]. Returns the meta
# hash's field names, the page's members, the hash's row and the posts' rows (each false when
# not read). The page starts just past the cursor (the first entry older than it) and ends at
# the cap: entries past it are waiting for the next trim. Reading posts is for a single Redis
# only: their keys are built from the members, whose complemented 64-bit ids are decoded here in
# exact steps.
_READ = (
    READ_POSTS_LUA
    + _LIST_LUA
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
local start, count = 0, tonumber(ARGV[2])
if ARGV[1] ~= '' then
  -- The cursor is usually the previous page's last post, still there: one scan in C finds it.
  -- Otherwise (deleted, trimmed) the page starts at the first older entry.
  local at = redis.call('LPOS', KEYS[1], ARGV[1])
  if at then
    start = at + 1
  else
    start = position(KEYS[1], ARGV[1], redis.call('LLEN', KEYS[1]))
  end
end
local members = {}
local stop = math.min(start + count, tonumber(ARGV[9])) - 1
if stop >= start then members = redis.call('LRANGE', KEYS[1], start, stop) end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local row = false
local next_arg = 10
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
for i = 2, #ARGV do redis.call('LREM', KEYS[1], 1, ARGV[i]) end
return 1
"""


def encode_member(post_id: int) -> bytes:
    """The timeline member of ``post_id``: its complement, so newer ids sort first."""
    return (_MEMBER_MAX - post_id).to_bytes(MEMBER_BYTES, "big")


def decode_member(member: bytes) -> int:
    return _MEMBER_MAX - int.from_bytes(member, "big")


def _key_head(kind: str, prefix: str) -> str:
    """What a user's key of this kind starts with; the user id (the hash tag) and "}" follow."""
    return f"{prefix}:{kind}:{{"


def timeline_key(user_id: int, prefix: str = DEFAULT_PREFIX) -> str:
    """The home timeline's list."""
    return f"{_key_head(_TIMELINE_KIND, prefix)}{user_id}}}"


def meta_key(user_id: int, prefix: str = DEFAULT_PREFIX) -> str:
    """The timeline's metadata hash; its existence means "built"."""
    return f"{_key_head(_META_KIND, prefix)}{user_id}}}"


def timeline_key_pattern(prefix: str = DEFAULT_PREFIX) -> str:
    """A SCAN/KEYS glob matching every home timeline (and no metadata hash)."""
    return f"{prefix}:{_TIMELINE_KIND}:*"


def meta_key_pattern(prefix: str = DEFAULT_PREFIX) -> str:
    """A SCAN/KEYS glob matching every timeline metadata hash."""
    return f"{prefix}:{_META_KIND}:*"


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
        # A list is trimmed back to cap only once it grows past this: one LTRIM per
        # TRIM_SLACK_SHARE-th of the cap instead of a pop with every write.
        self.trim_limit = cap + max(1, cap // TRIM_SLACK_SHARE)
        self.ttl_ms = ttl_seconds * 1000
        self.prefix = prefix
        self.cluster = isinstance(redis, RedisCluster)
        # The high-water mark (timeline_mark) lives beside the timelines on a single server; a
        # cluster's scripts touch one user's slot only, so there every write reads the head.
        self._mark_keys = [] if self.cluster else [mark_key(prefix), seed_key(prefix)]
        #: False once a fan-out found no mark: every write then reads heads until seed_mark().
        self.mark_present = True
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

    async def fan_out(
        self, user_ids: Sequence[int], post_id: int, *, claim: str | None = None
    ) -> int:
        """Adds one post to each built timeline among ``user_ids`` in one pipeline.

        Returns how many timelines were written; unbuilt (inactive) ones are skipped. ``claim``
        is the fan-out's chain token (:func:`feedline_shared.timeline_mark.new_chain`) when this
        write is part of a fan-out whose pages are each delivered once: it lets the write skip
        reading heads. Any other write of the post passes none.
        """
        if not user_ids:
            return 0
        member = encode_member(post_id)
        if self.cluster:
            async with self.redis.pipeline(transaction=False) as pipe:
                for user_id in user_ids:
                    # redis-py refuses EVALSHA in a cluster pipeline (it cannot reload a script
                    # one node lacks mid-batch); EVAL carries the source, one trip per node.
                    pipe.eval(_FAN_OUT, 2, *self._keys(user_id), self.cap, self.trim_limit, member)
                results = await pipe.execute()
            return sum(1 for written in results if written == 1)
        # One script call per batch of users: the per-key work runs inside Redis instead of
        # being encoded command by command by the client, which is what bounds a pipeline.
        heads = [_key_head(_TIMELINE_KIND, self.prefix), _key_head(_META_KIND, self.prefix)]
        size = FAN_OUT_BATCH_USERS
        tail = [*self._mark_keys, claim or ""]
        batches: list[list[int | str | bytes]] = [
            [
                self.cap,
                self.trim_limit,
                member,
                *heads,
                ",".join(map(str, user_ids[i : i + size])),
                *tail,
            ]
            for i in range(0, len(user_ids), size)
        ]
        try:
            results = await self._fan_out_batches(batches)
        except NoScriptError:
            # A Redis that restarted or flushed its scripts: load it and write again (the
            # writes are idempotent, so batches that ran before the error are harmless).
            await self.redis.script_load(_FAN_OUT_BATCH)
            results = await self._fan_out_batches(batches)
        self.mark_present = all(int(marked) for _, marked in results)
        return sum(int(written) for written, _ in results)

    async def seed_mark(self) -> MarkSeeding | Literal["unused"]:
        """Sets the high-water mark from the timelines' heads if it is missing (single server;
        a cluster has none). Fan-out writes read heads until it is there."""
        if self.cluster:
            return "unused"
        outcome = await seed_mark(self.redis, self.prefix, timeline_key_pattern(self.prefix))
        if outcome in ("present", "set"):
            self.mark_present = True
        return outcome

    async def _fan_out_batches(
        self, batches: list[list[int | str | bytes]]
    ) -> list[tuple[int, int]]:
        # EVALSHA straight into the pipeline: a registered script in a pipeline makes redis-py
        # ask SCRIPT EXISTS first, a round trip before every fan-out page.
        async with self.redis.pipeline(transaction=False) as pipe:
            for args in batches:
                pipe.evalsha(self._fan_out_batch.sha, 0, *args)
            return list(await pipe.execute())

    async def remove(self, user_ids: Iterable[int], post_ids: Sequence[int]) -> None:
        """Removes posts from timelines (idempotent)."""
        members = [encode_member(p) for p in post_ids]
        if not members:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            count = 0
            for user_id in user_ids:
                key = self.timeline_key(user_id)
                for member in members:
                    pipe.lrem(key, 1, member)
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
        members = [encode_member(p) for p in sorted(set(post_ids), reverse=True)[: self.cap]]
        args: list[object] = [
            self.cap,
            self.ttl_ms,
            int(time.time() * 1000),
            "1" if replace else "0",
            len(followees),
            *followees,
            *members,
        ]
        written = await self._write(keys=[*self._keys(user_id), *self._mark_keys], args=args)
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
        cursor = encode_member(before) if before is not None else b""
        keys = self._keys(user_id)
        prefetch = None if self.cluster else posts
        args: list[object] = [cursor, count, self.ttl_ms, prefetch.count if prefetch else 0]
        args.append("1" if beside else "0")
        if prefetch:
            args += [prefetch.ttl_seconds, prefetch.seed, POST_KEY_PREFIX]
        else:
            args += ["", "", ""]
        args.append(self.cap)
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
        """How many posts a reader of the timeline can page through."""
        return min(self.cap, int(await self.redis.llen(self.timeline_key(user_id))))

    async def drop(self, user_id: int) -> None:
        # One command: a list left without its metadata would count as built to fan-out.
        await self.redis.delete(*self._keys(user_id))
