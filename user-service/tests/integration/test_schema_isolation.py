"""Each service's database role reaches its own schema only (scripts/bootstrap-db.sh)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from user_service.settings import Settings


def dsn_as(settings: Settings, role: str) -> str:
    url = make_url(settings.database_url).set(drivername="postgresql", username=role)
    return url.render_as_string(hide_password=False)


@pytest.mark.parametrize(
    ("role", "foreign_table"),
    [("feedline_posts", "users.users"), ("feedline_users", "posts.posts")],
)
async def test_a_service_role_cannot_read_another_services_schema(
    settings: Settings, migrated_schema: str, role: str, foreign_table: str
) -> None:
    connection = await asyncpg.connect(dsn_as(settings, role))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetch(f"SELECT * FROM {foreign_table} LIMIT 1")
        # Nor create anything in the public schema, where a shared table could hide.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("CREATE TABLE public.shared_by_mistake (id int)")
    finally:
        await connection.close()


async def test_the_users_role_reads_its_own_schema(
    settings: Settings, migrated_schema: str
) -> None:
    connection = await asyncpg.connect(dsn_as(settings, "feedline_users"))
    try:
        assert await connection.fetchval("SELECT count(*) >= 0 FROM users.users")
    finally:
        await connection.close()
