"""Pure parsing rules: path ids, post-count ids, Idempotency-Key, settings."""

from __future__ import annotations

import re

import pytest

from feedline_shared.caches import user_key as user_cache_key
from feedline_shared.problems import NotFound, ValidationFailed
from post_service.dependencies import user_ids_query, valid_post_id
from post_service.schemas import IDEMPOTENCY_KEY_PATTERN
from post_service.settings import Settings


@pytest.mark.parametrize("raw", ["1", "42", "9223372036854775807"])
async def test_positive_64_bit_ids_are_accepted(raw: str) -> None:
    assert await valid_post_id(raw) == int(raw)


@pytest.mark.parametrize(
    "raw", ["", "0", "-5", "+5", " 5", "5 ", "1_000", "01", "9223372036854775808", "١٢٣"]
)
async def test_anything_else_names_no_post(raw: str) -> None:
    with pytest.raises(NotFound):
        await valid_post_id(raw)


async def test_user_ids_query_parses_and_rejects() -> None:
    assert await user_ids_query("1,2, 3,,") == [1, 2, 3]
    assert await user_ids_query("") == []
    for bad in ("1,x", "0", "1,-2", "99999999999999999999", ",".join(["7"] * 1001)):
        with pytest.raises(ValidationFailed):
            await user_ids_query(bad)


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("a", True),
        ("k" * 200, True),
        ("with space ~!", True),
        ("", False),
        ("k" * 201, False),
        ("tab\t", False),
        ("new\nline", False),
        ("é", False),
    ],
)
def test_idempotency_key_is_1_to_200_printable_ascii(key: str, ok: bool) -> None:
    assert bool(re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key)) is ok


def test_settings_defaults_work_on_loopback() -> None:
    settings = Settings(
        _env_file=None,
        database_url="postgresql+asyncpg://feedline_posts:feedline@127.0.0.1:5432/feedline",
    )
    assert settings.port == 8002 and settings.service_name == "post-service"
    assert settings.listen_dsn == "postgresql://feedline_posts:feedline@127.0.0.1:5432/feedline"
    assert settings.user_service_url == "http://127.0.0.1:8001"
    assert settings.user_cache_ttl_seconds == 300


def test_user_cache_key_uses_the_shared_hash_tag_layout() -> None:
    assert user_cache_key(7) == "feedline:user:{7}"
