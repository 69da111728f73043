"""Small pure pieces: path ids, the relay's LISTEN DSN, username folding."""

from __future__ import annotations

import pytest

from feedline_shared.problems import NotFound
from user_service.dependencies import parse_id
from user_service.service import fold_username


@pytest.mark.parametrize("raw", ["1", "42", str((1 << 63) - 1)])
def test_positive_64_bit_ids_parse(raw: str) -> None:
    assert parse_id(raw, "User") == int(raw)


@pytest.mark.parametrize("raw", ["0", "-1", "+1", "abc", "1.0", "", "١٢", str(1 << 63), "9" * 30])
def test_anything_else_is_not_found(raw: str) -> None:
    with pytest.raises(NotFound):
        parse_id(raw, "User")


def test_usernames_fold_to_lowercase() -> None:
    assert fold_username("Ada.Lovelace_1") == "ada.lovelace_1"
