"""Running a service's Alembic migrations from code: test sessions and the migrate script."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config

from feedline_shared.db import libpq_dsn


def alembic_config(alembic_ini: Path) -> Config:
    config = Config(str(alembic_ini))
    # Test runs and scripts keep their own logging configuration.
    config.attributes["configure_logger"] = False
    return config


async def recreate_schema(database_url: str, schema: str) -> None:
    """Drops and recreates ``schema`` as the connecting role (test databases only)."""
    connection = await asyncpg.connect(libpq_dsn(database_url))
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await connection.close()


async def migrate_fresh(
    database_url: str, schema: str, alembic_ini: Path, *, round_trip: bool = True
) -> None:
    """A fresh schema at head; ``round_trip`` goes up, down and up to prove reversibility."""
    await recreate_schema(database_url, schema)
    config = alembic_config(alembic_ini)
    # env.py runs its own event loop, so Alembic gets a thread of its own.
    await asyncio.to_thread(command.upgrade, config, "head")
    if round_trip:
        await asyncio.to_thread(command.downgrade, config, "base")
        await asyncio.to_thread(command.upgrade, config, "head")
