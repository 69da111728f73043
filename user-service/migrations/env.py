"""Alembic environment: URL and schema from user_service.settings, run over asyncpg."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from user_service.models import Base
from user_service.settings import Settings

settings = Settings()
target_metadata = Base.metadata

# Callers that own logging (the test suite) set attributes["configure_logger"] = False.
if context.config.config_file_name and context.config.attributes.get("configure_logger", True):
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)


def _only_our_schema(name: str | None, type_: str, _parent_names: object) -> bool:
    # Autogenerate compares this service's schema only; other schemas belong to other services.
    return type_ != "schema" or name == settings.db_schema


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        version_table_schema=settings.db_schema,
        include_schemas=True,
        include_name=_only_our_schema,
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=settings.database_url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    # Migrations name the schema explicitly; the role's default search_path is left alone so
    # that autogenerate sees tables with the same schema-qualified names as the models.
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = create_async_engine(settings.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
