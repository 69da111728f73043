"""The synthetic social graph: power-law followers, posts skewed towards a few authors, likes.

Pure data, no I/O, so its shape can be checked without a database. Ids follow
``feedline_shared.ids``: users and follows come from an :class:`IdGenerator`; posts are
back-dated over ``history_days`` with the same bit layout, so their ids order like their times.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from feedline_shared.ids import EPOCH_MS, NODE_BITS, SEQUENCE_BITS, IdGenerator

#: Node id reserved for bulk-loaded rows; services derive theirs from host and pid.
BENCH_NODE_ID = 1023
WORDS = (
    "sunset coffee morning city trail beach friends dinner weekend light street garden rain "
    "mountain river vintage market bread music studio concert dog cat bike road trip snow "
    "lake portrait film golden hour book window park night stars harbour kitchen"
).split()


@dataclass(frozen=True)
class GraphSpec:
    users: int = 10_000
    posts: int = 100_000
    likes: int = 200_000
    #: Followers of the most followed account (capped at users - 1).
    top_followers: int = 10_000
    #: Followers of the account ranked r are top_followers / r ** follower_exponent.
    follower_exponent: float = 1.0
    #: Posts per author fall off as 1 / rank ** post_exponent.
    post_exponent: float = 0.5
    history_days: int = 30
    seed: int = 42


@dataclass
class Graph:
    user_ids: list[int]
    usernames: list[str]
    #: (follow id, follower id, followee id)
    follows: list[tuple[int, int, int]]
    followers_count: list[int]
    following_count: list[int]
    #: (post id, author index, created_at)
    posts: list[tuple[int, int, datetime]]
    #: (post index, user index)
    likes: list[tuple[int, int]]
    like_count: list[int] = field(default_factory=list)

    def followers_of(self, user_index: int) -> list[int]:
        target = self.user_ids[user_index]
        return [follower for _, follower, followee in self.follows if followee == target]


def follower_target(rank: int, spec: GraphSpec) -> int:
    """How many followers the account ranked ``rank`` (1 = most followed) gets."""
    top = min(spec.top_followers, spec.users - 1)
    return min(spec.users - 1, max(1, round(top / rank**spec.follower_exponent)))


def post_id_at(millis: int, sequence: int) -> int:
    return (
        ((millis - EPOCH_MS) << (NODE_BITS + SEQUENCE_BITS))
        | (BENCH_NODE_ID << SEQUENCE_BITS)
        | sequence
    )


def build_graph(spec: GraphSpec) -> Graph:
    rng = random.Random(spec.seed)
    ids = IdGenerator(node_id=BENCH_NODE_ID)
    n = spec.users
    user_ids = [ids.next_id() for _ in range(n)]
    usernames = [f"bench_{index:06d}" for index in range(n)]

    follows: list[tuple[int, int, int]] = []
    followers_count = [0] * n
    following_count = [0] * n
    others = list(range(n))
    for followee in range(n):
        wanted = follower_target(followee + 1, spec)
        chosen = rng.sample(others, min(wanted + 1, n))
        chosen = [f for f in chosen if f != followee][:wanted]
        for follower in chosen:
            follows.append((ids.next_id(), user_ids[follower], user_ids[followee]))
            following_count[follower] += 1
        followers_count[followee] = len(chosen)

    weights = [1 / (rank**spec.post_exponent) for rank in range(1, n + 1)]
    authors = rng.choices(range(n), weights=weights, k=spec.posts)
    now_ms = int(datetime.now(UTC).timestamp() * 1000) - 60_000
    span_ms = spec.history_days * 86_400_000
    times = sorted(rng.randrange(now_ms - span_ms, now_ms) for _ in range(spec.posts))
    posts: list[tuple[int, int, datetime]] = []
    last_ms, sequence = -1, 0
    for author, millis in zip(authors, times, strict=True):
        sequence = sequence + 1 if millis == last_ms else 0
        last_ms = millis
        created = datetime.fromtimestamp(millis / 1000, UTC)
        posts.append((post_id_at(millis, sequence), author, created))

    pairs: set[tuple[int, int]] = set()
    wanted_likes = min(spec.likes, spec.posts * n)
    while len(pairs) < wanted_likes:
        # Recent posts get most likes: square the uniform draw towards the end of the list.
        post = int((1 - rng.random() ** 2) * spec.posts)
        pairs.add((min(post, spec.posts - 1), rng.randrange(n)))
    likes = sorted(pairs)
    like_count = [0] * spec.posts
    for post, _user in likes:
        like_count[post] += 1
    return Graph(
        user_ids=user_ids,
        usernames=usernames,
        follows=follows,
        followers_count=followers_count,
        following_count=following_count,
        posts=posts,
        likes=likes,
        like_count=like_count,
    )


def caption(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 20)))
