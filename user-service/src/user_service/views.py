"""Shapes the public User object from a row of the users table."""

from __future__ import annotations

from feedline_shared.schemas import User
from user_service import models


def user_out(user: models.User, posts_count: int | None) -> User:
    return User(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        bio=user.bio,
        created_at=user.created_at,
        followers_count=user.followers_count,
        following_count=user.following_count,
        posts_count=posts_count,
    )
