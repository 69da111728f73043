import pytest

from feed_service.cursors import (
    FeedCursor,
    Ranking,
    before_cursor,
    decode_feed_cursor,
    snapshot_cursor,
)
from feedline_shared.problems import BadRequest


def test_chronological_cursor_round_trips_a_64_bit_id():
    big = (1 << 63) - 1
    cursor = before_cursor(Ranking.chronological, big)
    assert decode_feed_cursor(cursor, Ranking.chronological) == FeedCursor(before=big)


def test_no_more_items_is_a_null_cursor():
    assert before_cursor(Ranking.ranked, None) is None
    assert decode_feed_cursor(None, Ranking.ranked) is None
    assert decode_feed_cursor("", Ranking.chronological) is None


def test_ranked_snapshot_cursor_round_trips():
    cursor = snapshot_cursor("0123456789abcdef", 20)
    assert decode_feed_cursor(cursor, Ranking.ranked) == FeedCursor(
        snapshot="0123456789abcdef", offset=20
    )


@pytest.mark.parametrize(
    ("cursor", "ranking"),
    [
        (before_cursor(Ranking.ranked, 5), Ranking.chronological),
        (before_cursor(Ranking.chronological, 5), Ranking.ranked),
        (snapshot_cursor("0123456789abcdef", 20), Ranking.chronological),
        (snapshot_cursor("0123456789abcdef", 0), Ranking.ranked),
        (snapshot_cursor("0123456789abcdef", 10_000), Ranking.ranked),
        ("%%%", Ranking.chronological),
    ],
)
def test_foreign_or_malformed_cursors_are_bad_requests(cursor, ranking):
    with pytest.raises(BadRequest):
        decode_feed_cursor(cursor, ranking)
