"""Feedline post-service: posts, likes and the events that announce them."""
