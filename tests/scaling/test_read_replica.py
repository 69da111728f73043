"""Read-only queries on a separate connection string: post-service B reads through a read-only
role (standing in for a streaming replica) and still writes through the primary one."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from feedline_client import Feedline
from scaling_deployment import DATABASE, READ_ROLE, Deployment, psql_admin

INTERNAL_HEADERS = {"X-Internal-Token": "feedline-dev-internal-token"}


def by_authors(deployment: Deployment, which: str, author_id: str) -> httpx.Response:
    system = deployment.first if which == "first" else deployment.second
    port = deployment.port(system, "post-service")
    return httpx.post(
        f"http://127.0.0.1:{port}/internal/posts/by-authors",
        json={"author_ids": [author_id], "before": None, "after": None, "limit": 10},
        headers=INTERNAL_HEADERS,
        timeout=10,
    )


def read_role_statements_since(moment: str) -> list[str]:
    """Statements the read role's connections ran last, if they started after ``moment``."""
    rows = psql_admin(
        DATABASE,
        f"""SELECT query FROM pg_stat_activity
        WHERE datname = '{DATABASE}' AND usename = '{READ_ROLE}' AND query_start >= '{moment}'""",
    )
    return [row for row in rows.splitlines() if row.strip()]


@pytest.fixture
def read_role_cannot_select() -> Iterator[None]:
    psql_admin(DATABASE, f"REVOKE SELECT ON ALL TABLES IN SCHEMA posts FROM {READ_ROLE}")
    try:
        yield
    finally:
        psql_admin(DATABASE, f"GRANT SELECT ON ALL TABLES IN SCHEMA posts TO {READ_ROLE}")


def test_feed_rebuild_reads_through_the_read_role(
    api: Feedline, api_b: Feedline, deployment: Deployment
) -> None:
    author, reader = api.register("author"), api.register("reader")
    post = api_b.post(author, "read back through the replica role")
    api_b.follow(reader, author)
    started = psql_admin(DATABASE, "SELECT now()").strip()

    assert api_b.feed_ids(reader) == [post["id"]]

    # A read session ends with ROLLBACK, so that is usually the last statement shown; the
    # causal proof is the next test.
    statements = read_role_statements_since(started)
    assert statements, "no query on the read role during the rebuild"
    writes = {"INSERT", "UPDATE", "DELETE"}
    assert not any(s.split()[0].upper() in writes for s in statements), statements
    role_config = psql_admin(
        DATABASE, f"SELECT rolconfig FROM pg_roles WHERE rolname = '{READ_ROLE}'"
    )
    assert "default_transaction_read_only=on" in role_config


def test_reads_depend_on_the_read_role_and_writes_do_not(
    api: Feedline, api_b: Feedline, deployment: Deployment, read_role_cannot_select: None
) -> None:
    author = api.register("author")

    # Writes through post-service B succeed although its read role may read nothing.
    post = api_b.post(author, "written through the primary role")
    assert api_b.request("GET", f"/posts/{post['id']}", author).status_code == 200

    refused = by_authors(deployment, "second", author.id)
    assert refused.status_code >= 500, refused.text
    served = by_authors(deployment, "first", author.id)
    assert served.status_code == 200, served.text
    assert [item["id"] for item in served.json()["items"]] == [post["id"]]
