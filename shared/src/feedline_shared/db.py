"""PostgreSQL engines and the request-scoped session that commits exactly once."""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import MetaData, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import QueuePool

from feedline_shared.settings import DatabaseSettings

logger = logging.getLogger(__name__)

_AFTER_COMMIT = "feedline_after_commit"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def create_engine(url: str, settings: DatabaseSettings) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # No ping per checkout (a round trip on every request): a connection the server dropped
        # fails its statement, the request is a 503 and SQLAlchemy replaces the whole pool.
        pool_pre_ping=False,
        pool_recycle=1800,
        pool_timeout=settings.internal_timeout_seconds,
        connect_args={
            "timeout": settings.internal_timeout_seconds,
            "command_timeout": max(settings.internal_timeout_seconds * 2, 10.0),
            "server_settings": {
                "search_path": settings.db_schema,
                "application_name": settings.service_name,
            },
        },
    )


class PoolCollector(Collector):
    """Exports connection-pool usage of every live Database at scrape time."""

    def __init__(self) -> None:
        self.databases: weakref.WeakSet[Database] = weakref.WeakSet()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "feedline_db_pool_connections",
            "Database pool connections by state (checked_out, idle, overflow) and pool size.",
            labels=["service", "pool", "state"],
        )
        for database in list(self.databases):
            for role, engine in database.engines().items():
                pool = engine.sync_engine.pool
                if not isinstance(pool, QueuePool):
                    continue
                for state, value in (
                    ("checked_out", pool.checkedout()),
                    ("idle", pool.checkedin()),
                    ("overflow", max(pool.overflow(), 0)),
                    ("size", pool.size()),
                ):
                    family.add_metric([database.service, role, state], value)
        yield family


POOLS = PoolCollector()
REGISTRY.register(POOLS)


class Database:
    """The primary engine, and the engine for read-only queries (a replica when configured)."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.service = settings.service_name
        self.engine = create_engine(settings.database_url, settings)
        self.read_engine = (
            create_engine(settings.database_read_url, settings)
            if settings.database_read_url
            else self.engine
        )
        POOLS.databases.add(self)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    def engines(self) -> dict[str, AsyncEngine]:
        engines = {"primary": self.engine}
        if self.read_engine is not self.engine:
            engines["read"] = self.read_engine
        return engines

    async def session(self) -> AsyncIterator[AsyncSession]:
        """Request scope: commits once when the handler returns, rolls back when it raises;
        then runs the :func:`after_commit` actions."""
        async with self.sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                session.info.pop(_AFTER_COMMIT, None)
                await session.rollback()
                raise
            await run_after_commit(session)

    async def read_session(self) -> AsyncIterator[AsyncSession]:
        async with self.read_sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def after_commit(session: AsyncSession, action: Callable[[], Awaitable[None]]) -> None:
    """Runs ``action`` once ``session``'s transaction has committed, never after a rollback.

    For side effects outside the database that must follow the committed state (cache
    invalidation): run before the commit, a concurrent reader could cache the old rows again.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


async def run_after_commit(session: AsyncSession) -> None:
    """The change is committed whatever happens here, so a failing action is logged, not
    raised: it must not turn a stored change into an error response."""
    for action in session.info.pop(_AFTER_COMMIT, []):
        try:
            await action()
        except Exception:
            logger.warning("after-commit action failed", exc_info=True)


def libpq_dsn(database_url: str) -> str:
    """The SQLAlchemy URL as a plain DSN for a bare asyncpg connection (the relay's LISTEN).

    SQLAlchemy's asyncpg dialect spells TLS ``?ssl=``; libpq-style DSNs spell it ``?sslmode=``,
    so one DATABASE_URL serves both connections.
    """
    url = make_url(database_url).set(drivername="postgresql")
    query = dict(url.query)
    if "ssl" in query and "sslmode" not in query:
        query["sslmode"] = query.pop("ssl")
    return url.set(query=query).render_as_string(hide_password=False)
