from feedline_shared.db import libpq_dsn


def test_listen_dsn_drops_the_driver_and_keeps_tls():
    assert (
        libpq_dsn("postgresql+asyncpg://u:secret@db:5432/feedline?ssl=require")
        == "postgresql://u:secret@db:5432/feedline?sslmode=require"
    )
    assert libpq_dsn("postgresql+asyncpg://u@h/d") == "postgresql://u@h/d"


def test_pool_usage_is_exported_per_service():
    from prometheus_client import generate_latest

    from feedline_shared.db import Database
    from feedline_shared.settings import DatabaseSettings

    database = Database(DatabaseSettings(service_name="pool-demo", db_pool_size=3))
    text = generate_latest().decode()
    assert (
        'feedline_db_pool_connections{pool="primary",service="pool-demo",state="size"} 3.0' in text
    )
    assert database.engines() == {"primary": database.engine}
