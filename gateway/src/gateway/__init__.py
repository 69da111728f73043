"""Feedline gateway: the only public entry, serving the /api/v1 contract."""
