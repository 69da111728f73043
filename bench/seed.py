"""Bulk-loads a :class:`~bench.graph.Graph` with COPY, each schema as the role that owns it.

Only the rows the services own are written; the outbox is left empty on purpose: the Redis
timelines are simply absent afterwards, and feed-service rebuilds each one on its first read.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import asyncpg

from bench.graph import Graph, caption
from bench.infra import postgres_url
from bench.progress import Progress

BENCH_PASSWORD = "bench-password-1"
BATCH = 20_000


def password_hash(env: dict[str, str]) -> str:
    """One argon2id hash made exactly as user-service makes it, with the bench's cost knobs."""
    from user_service.passwords import Passwords
    from user_service.settings import Settings

    settings = Settings(
        argon2_time_cost=int(env["ARGON2_TIME_COST"]),
        argon2_memory_cost_kib=int(env["ARGON2_MEMORY_COST_KIB"]),
        argon2_parallelism=int(env["ARGON2_PARALLELISM"]),
    )
    return asyncio.run(Passwords(settings).hash(BENCH_PASSWORD))


async def _copy(
    conn: asyncpg.Connection,
    schema: str,
    table: str,
    columns: Sequence[str],
    rows: Iterable[tuple[object, ...]],
    total: int,
) -> None:
    progress = Progress(f"{schema}.{table}", total)
    batch: list[tuple[object, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            await conn.copy_records_to_table(
                table, records=batch, columns=columns, schema_name=schema
            )
            progress.advance(len(batch))
            batch = []
    if batch:
        await conn.copy_records_to_table(table, records=batch, columns=columns, schema_name=schema)
        progress.advance(len(batch))
    progress.close()


async def _load_users(graph: Graph, hashed: str) -> None:
    conn = await asyncpg.connect(postgres_url("user-service"))
    try:
        now = datetime.now(UTC)
        users = (
            (uid, name, name.replace("_", " ").title(), "", hashed, fc, fc, gc, now, now)
            for uid, name, fc, gc in zip(
                graph.user_ids,
                graph.usernames,
                graph.followers_count,
                graph.following_count,
                strict=True,
            )
        )
        columns = (
            "id",
            "username",
            "display_name",
            "bio",
            "password_hash",
            "followers_count",
            "peak_followers_count",
            "following_count",
            "created_at",
            "updated_at",
        )
        await _copy(conn, "users", "users", columns, users, len(graph.user_ids))
        follows = ((fid, a, b, now) for fid, a, b in graph.follows)
        columns = ("id", "follower_id", "followee_id", "created_at")
        await _copy(conn, "users", "follows", columns, follows, len(graph.follows))
        await conn.execute("VACUUM (ANALYZE) users.users, users.follows")
    finally:
        await conn.close()


async def _load_posts(graph: Graph, seed: int) -> None:
    rng = random.Random(seed)
    conn = await asyncpg.connect(postgres_url("post-service"))
    try:
        posts = (
            (
                post_id,
                graph.user_ids[author],
                caption(rng),
                f"https://media.feedline.invalid/{post_id}.jpg",
                created,
                None,
                graph.like_count[index],
            )
            for index, (post_id, author, created) in enumerate(graph.posts)
        )
        columns = (
            "id",
            "author_id",
            "caption",
            "media_url",
            "created_at",
            "deleted_at",
            "like_count",
        )
        await _copy(conn, "posts", "posts", columns, posts, len(graph.posts))
        likes = (
            (graph.posts[post][0], graph.user_ids[user], graph.posts[post][2])
            for post, user in graph.likes
        )
        columns = ("post_id", "user_id", "created_at")
        await _copy(conn, "posts", "likes", columns, likes, len(graph.likes))
        await conn.execute("VACUUM (ANALYZE) posts.posts, posts.likes")
    finally:
        await conn.close()


def load(graph: Graph, hashed: str, seed: int) -> None:
    """Copies the graph in, then vacuums: a table just copied has no visibility map, so every
    index-only scan (follower pages, posts by author) would read the heap as well until
    autovacuum got to it, which a running service's tables have long had."""
    asyncio.run(_load_users(graph, hashed))
    asyncio.run(_load_posts(graph, seed))
