"""Response models of the feed-service."""

from __future__ import annotations

from feedline_shared.pagination import Page
from feedline_shared.schemas import Post

FeedPage = Page[Post]
