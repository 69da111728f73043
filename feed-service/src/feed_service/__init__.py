"""Feedline feed-service: the caller's home feed (``GET /feed``)."""
