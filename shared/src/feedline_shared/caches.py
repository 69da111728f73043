"""Redis copies of other services' records that the feed reads, and how they stay right.

Three versioned hashes (docs/architecture.md, "Redis keys"):

* ``feedline:post:{<post id>}`` — ``body`` (the post's immutable fields as JSON), ``likes``
  (the like count) and ``deleted`` (a tombstone);
* ``feedline:liked:{<viewer id>}`` — one field per post id the viewer was shown: ``1`` liked,
  ``0`` not;
* ``feedline:following:{<user id>}`` — ``set``: the accounts the user follows with their
  follower counts, as user-service's following-ids route answers them.

Each hash has a version field ``v``. The service that commits a change (post-service for likes
and deletes, user-service for follows) invalidates right after the commit, and the fanout worker
repeats it when the change's event arrives, in case that call failed: ``v`` goes up and the
stale fields go away. Readers read ``v`` with the fields (giving a hash without one a random
starting version first), and :func:`queue_fill` writes what they fetched only if ``v`` is still
the one they read, so a reader that queried the database before a concurrent change committed
can never put the old value back (the cache-aside race) — not even across a Redis that lost its
data, since versions restart from a random value, never from one a reader may hold.

Author summaries live under ``feedline:user:{<user id>}`` as UserSummary JSON: post-service
fills them from user-service; user-service deletes one after a profile change commits, and the
worker again on ``user.updated``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster

from feedline_shared.redis import AnyRedis

PREFIX = "feedline"
VERSION = "v"
BODY = "body"
LIKES = "likes"
DELETED = "deleted"
FOLLOW_SET = "set"

#: Cached hashes live this long after their last fill or invalidation.
DEFAULT_TTL_SECONDS = 24 * 3600

# KEYS[1] the hash; ARGV[1] ttl, ARGV[2] a random seed for a hash without a version, ARGV[3]
# how many fields to delete, then those fields, then field/value pairs to set.
_INVALIDATE = """
if redis.call('HEXISTS', KEYS[1], 'v') == 0 then redis.call('HSET', KEYS[1], 'v', ARGV[2]) end
redis.call('HINCRBY', KEYS[1], 'v', 1)
local drop = tonumber(ARGV[3])
if drop > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 4, 3 + drop)) end
if #ARGV > 3 + drop then redis.call('HSET', KEYS[1], unpack(ARGV, 4 + drop)) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""

# KEYS[1] the hash; ARGV[1] the version the values were read under, ARGV[2] ttl, ARGV[3] most
# fields the hash may hold (0: no limit), then field/value pairs. A hash that changed since (or
# holds a tombstone) is left alone. A hash past its limit starts over but keeps its version, so
# a fill racing the reset is still refused.
_FILL = """
local version = redis.call('HGET', KEYS[1], 'v')
if not version or version ~= ARGV[1] or redis.call('HEXISTS', KEYS[1], 'deleted') == 1 then
  return 0
end
local limit = tonumber(ARGV[3])
if limit > 0 and redis.call('HLEN', KEYS[1]) + (#ARGV - 3) / 2 > limit then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'v', version)
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

#: Lua (single Redis only): the cached rows of posts ``ids`` (strings) and the viewer's like
#: state; a hash without a version is given ``seed`` (and a TTL) as it is read, so a later fill
#: can be checked (see ``version_seed``). The post keys are built here from the ids, which are
#: also the like-state fields, so each id crosses the connection once. Appended to ``out``:
#: ``[v, body, likes, deleted]`` per post, then ``[v, liked per post...]``. The timeline read
#: script embeds it to read a page's posts in its own call.
READ_POSTS_LUA = """
local function versioned_row(key, ttl, seed, ...)
  local row = redis.call('HMGET', key, 'v', ...)
  if not row[1] then
    redis.call('HSETNX', key, 'v', seed)
    redis.call('EXPIRE', key, ttl)
    row[1] = seed
  end
  return row
end
local function read_posts(ids, liked_key, ttl, seed, prefix, out)
  for i = 1, #ids do
    local row = versioned_row(prefix .. '{' .. ids[i] .. '}', ttl, seed, 'body', 'likes', 'deleted')
    for j = 1, 4 do out[#out + 1] = row[j] end
  end
  local liked = versioned_row(liked_key, ttl, seed, unpack(ids))
  for j = 1, #liked do out[#out + 1] = liked[j] end
  return out
end
"""
_READ_POSTS = (
    READ_POSTS_LUA
    + """
local ids = {}
for i = 4, #ARGV do ids[#ids + 1] = ARGV[i] end
return read_posts(ids, KEYS[1], ARGV[1], ARGV[2], ARGV[3], {})
"""
)
POST_FIELDS = (VERSION, BODY, LIKES, DELETED)

#: A reader's like-state hash is emptied when a fill would take it past this many posts.
LIKED_MAX_FIELDS = 2000


Raw = bytes | None


def split_post_rows(flat: Sequence[Raw], posts: int) -> tuple[list[list[Raw]], list[Raw]]:
    """``read_posts``' flat answer as rows per post and the like-state row."""
    width = len(POST_FIELDS)
    split = width * posts
    rows = [list(flat[start : start + width]) for start in range(0, split, width)]
    return rows, list(flat[split:])


@dataclass(slots=True)
class PagePostsRead:
    """The cached rows of a timeline page's first ``count`` posts, read in the timeline's own
    script call (single Redis): for ``post_ids``, what :meth:`CacheReader.posts` answers."""

    viewer_id: int
    count: int
    ttl_seconds: int
    seed: str
    post_ids: list[int] = field(default_factory=list)
    rows: list[list[Raw]] = field(default_factory=list)
    liked: list[Raw] = field(default_factory=list)

    def covering(self, post_ids: Sequence[int]) -> tuple[list[list[Raw]], list[Raw]] | None:
        """Rows and like state for ``post_ids`` in that order, if this read holds them all."""
        if not self.liked:
            return None
        index = {post_id: i for i, post_id in enumerate(self.post_ids)}
        try:
            positions = [index[post_id] for post_id in post_ids]
        except KeyError:
            return None
        return [self.rows[i] for i in positions], [
            self.liked[0],
            *(self.liked[i + 1] for i in positions),
        ]


class CacheReader:
    """Reads many cached records in as few commands as the deployment allows.

    A single Redis answers one script call (posts and like state) and one MGET (authors): the
    client encodes two commands instead of one per key, which is most of a cache-hit page's
    client-side cost. On Redis Cluster the keys live in different slots, so each is read by its
    own command in one pipeline.
    """

    def __init__(self, redis: AnyRedis, *, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self.cluster = isinstance(redis, RedisCluster)
        self._read_posts = redis.register_script(_READ_POSTS)

    async def posts(
        self, post_ids: Sequence[int], viewer_id: int
    ) -> tuple[list[list[Raw]], list[Raw]]:
        """Per post ``[v, body, likes, deleted]``, and ``[v, liked per post...]`` of the viewer."""
        states = [str(post_id) for post_id in post_ids]
        # One seed serves every key of the read: a version only has to be one no reader of
        # that key can hold from before the hash vanished.
        seed = version_seed()
        if self.cluster:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in map(post_key, post_ids):
                    queue_versioned_read(pipe, key, POST_FIELDS[1:], self.ttl_seconds, seed=seed)
                queue_versioned_read(
                    pipe, liked_key(viewer_id), states, self.ttl_seconds, seed=seed
                )
                results = await pipe.execute()
            step = VERSIONED_READ_RESULTS
            rows = results[step - 1 :: step]
            return rows[:-1], rows[-1]
        flat = await self._read_posts(
            keys=[liked_key(viewer_id)], args=[self.ttl_seconds, seed, POST_KEY_PREFIX, *states]
        )
        return split_post_rows(flat, len(states))

    async def values(self, keys: Sequence[str]) -> list[Raw]:
        """Plain string values (author summaries) of ``keys``, None where absent."""
        if not keys:
            return []
        if not self.cluster:
            return list(await self.redis.mget(keys))
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(key)
            return list(await pipe.execute())


POST_KEY_PREFIX = f"{PREFIX}:post:"


def post_key(post_id: int) -> str:
    return f"{POST_KEY_PREFIX}{{{post_id}}}"


def liked_key(viewer_id: int) -> str:
    return f"{PREFIX}:liked:{{{viewer_id}}}"


def following_key(user_id: int) -> str:
    return f"{PREFIX}:following:{{{user_id}}}"


def user_key(user_id: int) -> str:
    return f"{PREFIX}:user:{{{user_id}}}"


def deleted_user_key(user_id: int) -> str:
    # Tagged like the gateway's per-user rate-limit key, so one script reads both on a cluster.
    return f"{PREFIX}:deleted:{{user:{user_id}}}"


#: How long a deleted account's marker refuses its session tokens: longer than any token can
#: live (the gateway refuses a JWT_TTL_SECONDS above it).
DELETED_USER_MARKER_SECONDS = 30 * 86_400


def version_seed() -> str:
    """A random starting version for a hash that has none.

    Versions start random, not at 0 or 1, so a hash that vanished (a Redis that lost its data,
    an expiry) never comes back with a version a reader saw before: a fill read before the loss
    cannot match. Readers give a hash its version before reading (``HSETNX``), and a fill only
    writes into a hash whose version it read.
    """
    return str(secrets.randbits(62))


def queue_versioned_read(
    pipe: Pipeline | ClusterPipeline,
    key: str,
    fields: Sequence[str],
    ttl_seconds: int,
    *,
    seed: str | None = None,
) -> None:
    """Adds ``HMGET key v fields...`` to ``pipe``, giving the hash a version first if it has
    none (``seed``, or a fresh one); the row's first value is the version a fill must match."""
    pipe.hsetnx(key, VERSION, seed or version_seed())
    pipe.expire(key, ttl_seconds, nx=True)
    pipe.hmget(key, [VERSION, *fields])


#: Results :func:`queue_versioned_read` adds to a pipeline; the row is the last.
VERSIONED_READ_RESULTS = 3


def version_of(raw: bytes | None) -> str | None:
    """The version a fill must match; None (nothing to fill) when the hash had none."""
    return None if raw is None else raw.decode()


def _invalidation(
    key: str, ttl_seconds: int, drop: Sequence[str], put: Mapping[str, str]
) -> list[str | int]:
    pairs = [item for field, value in put.items() for item in (field, value)]
    return [key, ttl_seconds, version_seed(), len(drop), *drop, *pairs]


async def _invalidate_all(redis: AnyRedis, changes: Sequence[list[str | int]]) -> None:
    # EVAL (not EVALSHA) in a non-transactional pipeline: one key per script, so it routes to
    # the key's node on Redis Cluster, and a node never lacks the script.
    async with redis.pipeline(transaction=False) as pipe:
        for key, *args in changes:
            pipe.eval(_INVALIDATE, 1, key, *args)
        await pipe.execute()


async def invalidate_like(
    redis: AnyRedis, post_id: int, user_id: int, *, ttl_seconds: int = DEFAULT_TTL_SECONDS
) -> None:
    """After ``user_id`` liked or unliked ``post_id``: its count and that viewer's state."""
    await invalidate_likes(redis, user_id, [post_id], ttl_seconds=ttl_seconds)


async def invalidate_deletion(
    redis: AnyRedis, post_id: int, *, ttl_seconds: int = DEFAULT_TTL_SECONDS
) -> None:
    """After ``post_id`` was deleted: a tombstone no fill can overwrite."""
    await invalidate_deletions(redis, [post_id], ttl_seconds=ttl_seconds)


async def invalidate_following(
    redis: AnyRedis, follower_id: int, *, ttl_seconds: int = DEFAULT_TTL_SECONDS
) -> None:
    """After ``follower_id`` followed or unfollowed someone."""
    await invalidate_followings(redis, [follower_id], ttl_seconds=ttl_seconds)


async def invalidate_followings(
    redis: AnyRedis, follower_ids: Sequence[int], *, ttl_seconds: int = DEFAULT_TTL_SECONDS
) -> None:
    """:func:`invalidate_following` for many readers in one round trip."""
    await _invalidate_all(
        redis,
        [_invalidation(following_key(f), ttl_seconds, [FOLLOW_SET], {}) for f in follower_ids],
    )


async def invalidate_author(redis: AnyRedis, user_id: int) -> None:
    """After ``user_id``'s profile changed: the cached summary shown as a post's author."""
    await redis.delete(user_key(user_id))


def queue_fill(
    pipe: Pipeline | ClusterPipeline,
    key: str,
    version: str | None,
    values: Mapping[str, str],
    ttl_seconds: int,
    *,
    max_fields: int = 0,
) -> None:
    """Adds a conditional fill of ``key`` to a non-transactional pipeline (nothing when the
    read saw no version)."""
    pairs = [item for field, value in values.items() for item in (field, value)]
    if pairs and version is not None:
        pipe.eval(_FILL, 1, key, version, ttl_seconds, max_fields, *pairs)


async def invalidate_deletions(
    redis: AnyRedis, post_ids: Sequence[int], *, ttl_seconds: int = DEFAULT_TTL_SECONDS
) -> None:
    """:func:`invalidate_deletion` for many posts in one round trip."""
    if post_ids:
        await _invalidate_all(
            redis,
            [
                _invalidation(post_key(p), ttl_seconds, [BODY, LIKES], {DELETED: "1"})
                for p in post_ids
            ],
        )


async def invalidate_likes(
    redis: AnyRedis,
    user_id: int,
    post_ids: Sequence[int],
    *,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
) -> None:
    """After ``user_id``'s likes of ``post_ids`` were added or removed: their counts and that
    viewer's state, in one round trip."""
    if post_ids:
        changes = [_invalidation(post_key(p), ttl_seconds, [LIKES], {}) for p in post_ids]
        changes.append(
            _invalidation(liked_key(user_id), ttl_seconds, [str(p) for p in post_ids], {})
        )
        await _invalidate_all(redis, changes)


async def invalidate_deleted_account(
    redis: AnyRedis,
    user_id: int,
    follower_ids: Sequence[int] = (),
    *,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
) -> None:
    """After ``user_id``'s account was deleted: its session tokens are refused from now on, its
    author summary is gone (so its posts hydrate to nothing), and the cached follow sets of the
    account and of its former followers are dropped."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(deleted_user_key(user_id), "1", ex=DELETED_USER_MARKER_SECONDS)
        pipe.delete(user_key(user_id))
        await pipe.execute()
    await invalidate_followings(redis, [user_id, *follower_ids], ttl_seconds=ttl_seconds)
