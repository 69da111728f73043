"""Tables of the `posts` schema. Migrations in ../../migrations create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    func,
    text,
)

from feedline_shared.db import service_metadata
from feedline_shared.outbox import define_outbox_table

SCHEMA = "posts"

metadata = service_metadata(SCHEMA)

posts = Table(
    "posts",
    metadata,
    # From feedline_shared.ids.IdGenerator: time-ordered, so it is also the sort key.
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("author_id", BigInteger, nullable=False),
    Column("caption", Text, nullable=False),
    Column("media_url", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # A deleted post stays as a tombstone: never returned, its id never reused.
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Column("like_count", BigInteger, nullable=False, server_default=text("0")),
    CheckConstraint("like_count >= 0", name="like_count_not_negative"),
    Index(
        None,
        "author_id",
        text("id DESC"),
        postgresql_where=text("deleted_at IS NULL"),
    ),
)

likes = Table(
    "likes",
    metadata,
    Column("post_id", BigInteger, ForeignKey(posts.c.id), primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("author_id", BigInteger, primary_key=True),
    Column("key", String(200), primary_key=True),
    # The key row is claimed before the post row exists (same transaction), hence deferred.
    Column(
        "post_id",
        BigInteger,
        ForeignKey(posts.c.id, deferrable=True, initially="DEFERRED"),
        nullable=False,
    ),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = define_outbox_table(metadata)
