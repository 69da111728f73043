"""A database that goes away is a 503 problem, never a 500 (real PostgreSQL, real failures)."""

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from feedline_shared.problems import install_problem_handlers

LIVE = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
CLOSED = "postgresql+asyncpg://postgres@127.0.0.1:1/postgres"


def _app() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/closed-port")
    async def closed_port() -> dict:
        engine = create_async_engine(CLOSED)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()
        return {}

    @app.get("/terminated")
    async def terminated() -> dict:
        engine = create_async_engine(LIVE, pool_pre_ping=False)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()
        return {}

    @app.get("/bad-sql")
    async def bad_sql() -> dict:
        engine = create_async_engine(LIVE)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT * FROM no_such_table_here"))
        finally:
            await engine.dispose()
        return {}

    return TestClient(app, raise_server_exceptions=False)


def test_unreachable_and_terminated_databases_are_503_problems():
    client = _app()
    for path in ("/closed-port", "/terminated"):
        response = client.get(path)
        assert response.status_code == 503, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"


def test_a_broken_statement_stays_a_500():
    assert _app().get("/bad-sql").status_code == 500
