"""Posts, likes, idempotency keys and the outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str:
    # env.py passes the service's schema (DB_SCHEMA) as the version table schema.
    return op.get_context().version_table_schema or "posts"


def upgrade() -> None:
    schema = _schema()
    op.create_table(
        "posts",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("caption", sa.Text(), nullable=False),
        sa.Column("media_url", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("like_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("like_count >= 0", name=op.f("ck_posts_like_count_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
        schema=schema,
    )
    op.create_index(
        op.f("ix_posts_posts_author_id"),
        "posts",
        ["author_id", sa.text("id DESC")],
        postgresql_where=sa.text("deleted_at IS NULL"),
        schema=schema,
    )
    op.create_table(
        "likes",
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], [f"{schema}.posts.id"], name=op.f("fk_likes_post_id_posts")
        ),
        sa.PrimaryKeyConstraint("post_id", "user_id", name=op.f("pk_likes")),
        schema=schema,
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            [f"{schema}.posts.id"],
            name=op.f("fk_idempotency_keys_post_id_posts"),
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.PrimaryKeyConstraint("author_id", "key", name=op.f("pk_idempotency_keys")),
        schema=schema,
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
        schema=schema,
    )
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["id"],
        postgresql_where=sa.text("sent_at IS NULL"),
        schema=schema,
    )


def downgrade() -> None:
    schema = _schema()
    op.drop_index("ix_outbox_unsent", table_name="outbox", schema=schema)
    op.drop_table("outbox", schema=schema)
    op.drop_table("idempotency_keys", schema=schema)
    op.drop_table("likes", schema=schema)
    op.drop_index(op.f("ix_posts_posts_author_id"), table_name="posts", schema=schema)
    op.drop_table("posts", schema=schema)
