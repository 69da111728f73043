"""Operations routes, and the migration matching the table definitions."""

from __future__ import annotations

import httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from post_service_testing import FakeUserService
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from post_service.app import create_app
from post_service.models import SCHEMA, metadata
from post_service.settings import Settings


async def test_health_readiness_and_metrics_need_no_credential(
    client: httpx.AsyncClient,
) -> None:
    anonymous = {"X-Internal-Token": ""}
    health = await client.get("/healthz", headers=anonymous)
    assert health.json() == {"status": "ok", "service": "post-service"}
    ready = await client.get("/readyz", headers=anonymous)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok", "rabbitmq": "ok"}
    metrics = await client.get("/metrics", headers=anonymous)
    assert metrics.status_code == 200 and "feedline_" in metrics.text


async def test_unknown_routes_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong_method = await client.put("/posts/1")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"


def _included(name: str | None, type_: str, _: object) -> bool:
    if type_ == "schema":
        return name == SCHEMA
    return not (type_ == "table" and name == "alembic_version")


async def test_migrations_create_exactly_the_declared_tables(settings: Settings) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection,
            opts={
                "target_metadata": metadata,
                "include_schemas": True,
                "include_name": _included,
                "compare_server_default": True,
            },
        )
        return compare_metadata(context, metadata)

    # Reflected from outside the schema (default search_path), so foreign keys come back
    # schema-qualified like the declared ones.
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_a_database_outage_is_a_503_problem_not_a_500(
    settings: Settings, user_service: FakeUserService
) -> None:
    author = user_service.add()
    down = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://feedline_posts:feedline@127.0.0.1:1/x"}
    )
    app = create_app(down, transport=httpx.MockTransport(user_service.handle))
    headers = {"X-Internal-Token": settings.internal_token, "X-User-ID": str(author.id)}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://p", headers=headers
        ) as http,
    ):
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["failing"] == ["postgres"]
        for response in (
            await http.post("/posts", json={"caption": "x"}),
            await http.get("/posts/1"),
        ):
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert "unavailable" in response.json()["detail"]


async def test_by_authors_reads_the_primary_only_when_asked(
    settings: Settings, user_service: FakeUserService
) -> None:
    # A replica that cannot be reached shows which connection each read took.
    author = user_service.add()
    unreachable_replica = settings.model_copy(
        update={"database_read_url": "postgresql+asyncpg://feedline_posts:feedline@127.0.0.1:1/x"}
    )
    app = create_app(unreachable_replica, transport=httpx.MockTransport(user_service.handle))
    headers = {"X-Internal-Token": settings.internal_token}
    body = {"author_ids": [str(author.id)], "limit": 5}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://p", headers=headers
        ) as http,
    ):
        from_replica = await http.post("/internal/posts/by-authors", json=body)
        from_primary = await http.post("/internal/posts/by-authors", json={**body, "primary": True})
    assert from_replica.status_code == 503
    assert from_primary.status_code == 200 and from_primary.json() == {"items": []}
