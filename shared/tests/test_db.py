from feedline_shared.db import libpq_dsn


def test_listen_dsn_drops_the_driver_and_keeps_tls():
    assert (
        libpq_dsn("postgresql+asyncpg://u:secret@db:5432/feedline?ssl=require")
        == "postgresql://u:secret@db:5432/feedline?sslmode=require"
    )
    assert libpq_dsn("postgresql+asyncpg://u@h/d") == "postgresql://u@h/d"
