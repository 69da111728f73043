"""The timelines' high-water mark: what lets fan-out push a post without reading a timeline first.

A fan-out write must keep each timeline sorted and must not add a post twice, so it reads the
head of the list before pushing (:mod:`feedline_shared.timelines`). That read is one of the
write's two commands, about half of what Redis spends on it. The mark spares it: a single Redis
key, ``<prefix>:hlw``, holding a member that no timeline entry is newer than. Every writer keeps
it so (on a single Redis; a cluster never uses it):

- a post newer than the mark is newer than every head, so it is pushed blindly, and the mark
  rises to it, *claimed* by the fan-out that pushed it (a random token of that fan-out: its
  chain). Later batches and pages of the same chain push it blindly too: their followers are
  disjoint from the ones already written (pages are follower-id ranges), so none has it yet.
- anything else writing that post, or a newer one (a rebuild or merge that read it from the
  database before fan-out reached the timeline, a redelivered page, a second copy of the event),
  writes as before (the head read) and takes the claim away: from then on that post is written
  with the head read everywhere, which finds it where it was already pushed.

A redelivered or retried page never carries its chain's claim (the worker passes it only on a
message's first delivery), so blind pushes of one post come only from pages delivered once each.

The mark holds the member's 8 bytes followed by the claiming chain's token (nothing once the
claim is taken away). Without the mark (a new or flushed Redis, or the key lost) every write
reads the head, and :func:`seed_mark` sets the mark again: it gathers the newest head of all
timelines into ``<prefix>:hlw:seed`` with SCAN, while every writer raises that seed to what it
writes, so when the scan ends nothing is newer than the seed, which becomes the mark.
"""

from __future__ import annotations

import secrets
from typing import Literal

from feedline_shared.redis import AnyRedis

#: Key kinds beside the timelines' ``hl``/``hlm`` (same prefix).
MARK_KIND = "hlw"
#: How long a seed lives unless its scan goes on: a seeder that stopped leaves no seed behind.
SEED_TTL_MS = 60_000
#: Timeline keys asked for per SCAN step (and head reads per seeding step).
SEED_SCAN_COUNT = 1000

# How members compare, for every timeline script: byte order, which is id order reversed.
ORDER_LUA = """
local call, byte = redis.call, string.byte
local function halves(m)
  -- A member's two 32-bit halves as numbers: comparing them in order compares the bytes.
  local b1, b2, b3, b4, b5, b6, b7, b8 = byte(m, 1, 8)
  return ((b1 * 256 + b2) * 256 + b3) * 256 + b4, ((b5 * 256 + b6) * 256 + b7) * 256 + b8
end
local function before(high_a, low_a, high_b, low_b)
  return high_a < high_b or (high_a == high_b and low_a < low_b)
end
local function newer(a, b)
  -- True when member a sorts before member b (a is the newer post).
  local high_a, low_a = halves(a)
  local high_b, low_b = halves(b)
  return before(high_a, low_a, high_b, low_b)
end
"""

# The mark's rules, after ORDER_LUA. A mark or seed value is a member's 8 bytes, then a token.
MARK_LUA = """
local function raise_seed(seed_key, member)
  local seed = call('GET', seed_key)
  if seed and newer(member, string.sub(seed, 1, 8)) then
    call('SET', seed_key, member .. string.sub(seed, 9), 'KEEPTTL')
  end
end
local function written_up_to(mark_key, seed_key, member)
  -- Records that a writer without a claim put member (its newest) in a timeline: the mark
  -- rises to it unclaimed, or loses its claim on it; with no mark, a seed being gathered rises.
  local mark = call('GET', mark_key)
  if not mark then return raise_seed(seed_key, member) end
  local marked = string.sub(mark, 1, 8)
  if newer(member, marked) or (member == marked and #mark > 8) then
    call('SET', mark_key, member)
  end
end
local function claim(mark_key, seed_key, member, chain)
  -- True when member may be pushed onto timelines without reading their heads: it is newer
  -- than the mark (which then rises to it under chain's claim), or it is the mark and chain
  -- holds the claim. Otherwise the write reads heads, and takes away any claim on member.
  -- The second value is false when there is no mark.
  local mark = call('GET', mark_key)
  if not mark then
    raise_seed(seed_key, member)
    return false, false
  end
  local marked = string.sub(mark, 1, 8)
  if newer(member, marked) then
    call('SET', mark_key, member .. chain)
    return true, true
  end
  if member == marked and #mark > 8 then
    if chain ~= '' and string.sub(mark, 9) == chain then return true, true end
    call('SET', mark_key, member)
  end
  return false, true
end
"""

# KEYS: mark, seed. ARGV: token, seed ttl ms. 0: the mark is there; -1: another seeder's seed
# is; 1: this seed started, at the oldest possible member.
_SEED_START = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local seed = redis.call('GET', KEYS[2])
if seed and string.sub(seed, 9) ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[2], string.rep('\\255', 8) .. ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS: seed, timelines... ARGV: token, seed ttl ms. Raises the seed to the newest head; 0 when
# the seed is gone or another seeder's.
_SEED_STEP = (
    ORDER_LUA
    + """
local seed = call('GET', KEYS[1])
if not seed or string.sub(seed, 9) ~= ARGV[1] then return 0 end
local newest = string.sub(seed, 1, 8)
for i = 2, #KEYS do
  local head = call('LINDEX', KEYS[i], 0)
  if head and newer(head, newest) then newest = head end
end
call('SET', KEYS[1], newest .. ARGV[1], 'PX', ARGV[2])
return 1
"""
)

# KEYS: mark, seed. ARGV: token. The seed becomes the (unclaimed) mark; 0 when it is gone.
_SEED_FINISH = """
local seed = redis.call('GET', KEYS[2])
if not seed or string.sub(seed, 9) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], string.sub(seed, 1, 8))
end
redis.call('DEL', KEYS[2])
return 1
"""


#: What a seeding found or did: the mark was there already; it is set now; another seeder's seed
#: is being gathered; this seed lapsed (or was taken over) before the scan ended.
MarkSeeding = Literal["present", "set", "busy", "lapsed"]


def mark_key(prefix: str) -> str:
    return f"{prefix}:{MARK_KIND}"


def seed_key(prefix: str) -> str:
    return f"{prefix}:{MARK_KIND}:seed"


def new_chain() -> str:
    """A fan-out's claim token: random, so two copies of one event never share a claim."""
    return secrets.token_hex(8)


async def seed_mark(redis: AnyRedis, prefix: str, timeline_pattern: str) -> MarkSeeding:
    """Sets the mark when it is missing, from the heads of every timeline."""
    keys = [mark_key(prefix), seed_key(prefix)]
    token = new_chain()
    started = int(await redis.eval(_SEED_START, 2, *keys, token, SEED_TTL_MS))
    if started != 1:
        return "present" if started == 0 else "busy"
    cursor = 0
    while True:
        cursor, found = await redis.scan(cursor, match=timeline_pattern, count=SEED_SCAN_COUNT)
        if found:
            raised = await redis.eval(
                _SEED_STEP, 1 + len(found), keys[1], *found, token, SEED_TTL_MS
            )
            if not raised:
                return "lapsed"
        if cursor == 0:
            break
    return "set" if await redis.eval(_SEED_FINISH, 2, *keys, token) else "lapsed"
