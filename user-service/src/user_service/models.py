"""Tables of the `users` schema. Ids are 64-bit, time-ordered (feedline_shared.ids)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from feedline_shared.db import service_metadata
from feedline_shared.outbox import define_outbox_table

SCHEMA = "users"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # Lookups and uniqueness are case-insensitive because names are stored folded.
        CheckConstraint("username = lower(username)", name="username_lowercase"),
        CheckConstraint("followers_count >= 0", name="followers_count_nonnegative"),
        CheckConstraint("following_count >= 0", name="following_count_nonnegative"),
        CheckConstraint(
            "peak_followers_count >= followers_count", name="peak_followers_count_covers_current"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    username: Mapped[str] = mapped_column(String(30), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    bio: Mapped[str] = mapped_column(String(150), default="", server_default="")
    password_hash: Mapped[str] = mapped_column(Text)
    followers_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    following_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The most followers the account ever had. Fan-out skips authors above the celebrity
    # threshold *now*; readers merge any author that was *ever* above it, so a post is always
    # either in the timelines or merged at read time, whichever way the count moved since.
    peak_followers_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class Follow(Base):
    __tablename__ = "follows"
    __table_args__ = (
        # Leading with followee_id lets the same index serve follower-ids (ascending follower
        # id per followee); uniqueness of the pair is the same either way.
        UniqueConstraint("followee_id", "follower_id", name="uq_follows_followee_id_follower_id"),
        CheckConstraint("follower_id <> followee_id", name="not_self"),
        Index("ix_follows_followee_id_id", "followee_id", "id"),
        Index("ix_follows_follower_id_id", "follower_id", "id"),
    )

    # Time-ordered, so "newest follow first" pages order by id.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    follower_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE")
    )
    followee_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(100))
    # sha256 hex of the key: keys are long random strings, so a fast hash is enough and lets
    # verification be one indexed lookup.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


outbox = define_outbox_table(Base.metadata)
