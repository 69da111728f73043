"""When a reader's cached follow set starts being refreshed: spread over readers, in bounds."""

from collections import Counter

import pytest

from feed_service.follow_sets import (
    EARLIEST_REFRESH_AGE,
    LATEST_REFRESH_AGE,
    refresh_after_seconds,
)
from feedline_shared.ids import IdGenerator

TTL = 600


def test_refresh_ages_of_readers_made_together_spread_over_the_whole_window() -> None:
    # Ids issued back to back share their time bits: the spread must come from the hash.
    ids = IdGenerator(node_id=3)
    readers = [ids.next_id() for _ in range(2000)]
    ages = [refresh_after_seconds(TTL, reader) for reader in readers]

    low, high = TTL * EARLIEST_REFRESH_AGE, TTL * LATEST_REFRESH_AGE
    assert all(low <= age < high for age in ages)
    tenths = Counter(int((age - low) / (high - low) * 10) for age in ages)
    assert sorted(tenths) == list(range(10))
    assert all(120 <= count <= 280 for count in tenths.values()), tenths


def test_a_readers_refresh_age_is_the_same_on_every_read_and_process() -> None:
    assert refresh_after_seconds(TTL, 42) == refresh_after_seconds(TTL, 42)
    assert refresh_after_seconds(60, 42) == pytest.approx(refresh_after_seconds(TTL, 42) / 10)
