"""Feedline user-service: accounts, profiles, the follow graph and API keys."""
