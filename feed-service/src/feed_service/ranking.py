"""The ranked feed's score, and the Redis snapshots that keep its pages stable.

Score of a post for viewer *u*::

    score = (likes + 1) ** RANK_LIKE_WEIGHT
            * (affinity + 1) ** RANK_AFFINITY_WEIGHT
            / (age_hours + 2) ** RANK_GRAVITY

- ``likes``: the post's like count when the first page is ranked;
- ``affinity``: how many of the author's posts *u* has liked (``HGET feedline:aff:{u} <author>``,
  kept by the fanout worker); 0 for *u*'s own posts and when unknown;
- ``age_hours``: hours since the post was created (never negative);
- defaults: RANK_LIKE_WEIGHT 1.0, RANK_AFFINITY_WEIGHT 1.0, RANK_GRAVITY 1.5.

Higher scores come first; equal scores put the newer post (larger id) first. The candidates are
the newest RANK_WINDOW (200) items of the chronological feed at the first page. The ranked id
list is saved in Redis for RANK_SNAPSHOT_TTL_SECONDS (15 min), so later pages keep their order
while likes change; after the window the feed continues chronologically below the window's
oldest item.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from feedline_shared.redis import AnyRedis
from feedline_shared.schemas import Post


@dataclass(frozen=True, slots=True)
class RankWeights:
    like: float = 1.0
    affinity: float = 1.0
    gravity: float = 1.5


def score(likes: int, affinity: int, age_hours: float, weights: RankWeights) -> float:
    """The formula in the module docstring."""
    return (
        (max(likes, 0) + 1) ** weights.like
        * (max(affinity, 0) + 1) ** weights.affinity
        / (max(age_hours, 0.0) + 2) ** weights.gravity
    )


def rank(
    posts: Iterable[Post],
    *,
    viewer_id: int,
    affinities: dict[int, int],
    weights: RankWeights,
    now: datetime | None = None,
) -> list[Post]:
    moment = now or datetime.now(UTC)

    def key(post: Post) -> tuple[float, int]:
        created = post.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        age_hours = (moment - created).total_seconds() / 3600
        affinity = 0 if post.author.id == viewer_id else affinities.get(post.author.id, 0)
        return score(post.like_count, affinity, age_hours, weights), post.id

    return sorted(posts, key=key, reverse=True)


class AffinityReader:
    """The viewer's like counts per author, kept by the fanout worker."""

    def __init__(self, redis: AnyRedis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def key(self, user_id: int) -> str:
        return f"{self.prefix}:aff:{{{user_id}}}"

    async def read(self, user_id: int, author_ids: Sequence[int]) -> dict[int, int]:
        authors = list(dict.fromkeys(author_ids))
        if not authors:
            return {}
        values = await self.redis.hmget(self.key(user_id), [str(a) for a in authors])
        affinities: dict[int, int] = {}
        for author, value in zip(authors, values, strict=True):
            try:
                affinities[author] = int(value) if value is not None else 0
            except ValueError:
                affinities[author] = 0
        return affinities


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A ranked window: its ids in ranked order and where the chronological rest continues."""

    post_ids: list[int]
    continue_before: int | None


class SnapshotStore:
    def __init__(self, redis: AnyRedis, prefix: str, ttl_seconds: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds

    def key(self, user_id: int, snapshot_id: str) -> str:
        return f"{self.prefix}:rank:{{{user_id}}}:{snapshot_id}"

    async def save(self, user_id: int, snapshot: Snapshot) -> str:
        snapshot_id = secrets.token_hex(8)
        body = orjson.dumps({"ids": snapshot.post_ids, "next": snapshot.continue_before})
        await self.redis.set(self.key(user_id, snapshot_id), body, ex=self.ttl_seconds)
        return snapshot_id

    async def load(self, user_id: int, snapshot_id: str) -> Snapshot | None:
        raw = await self.redis.get(self.key(user_id, snapshot_id))
        if raw is None:
            return None
        body = orjson.loads(raw)
        return Snapshot([int(i) for i in body["ids"]], body["next"])
