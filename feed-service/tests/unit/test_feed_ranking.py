from datetime import UTC, datetime, timedelta

import pytest

from feed_service.ranking import RankWeights, rank, score
from feedline_shared.schemas import Post, UserSummary

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def make_post(post_id: int, author: int, *, hours: float, likes: int) -> Post:
    return Post(
        id=post_id,
        author=UserSummary(id=author, username=f"u{author}", display_name="U"),
        caption="c",
        media_url=None,
        created_at=NOW - timedelta(hours=hours),
        like_count=likes,
        liked_by_me=False,
    )


def test_score_is_the_documented_formula():
    weights = RankWeights(like=1.0, affinity=1.0, gravity=1.5)
    assert score(3, 1, 2.0, weights) == pytest.approx(4 * 2 / 4**1.5)
    assert score(0, 0, 0.0, RankWeights(like=2, affinity=0.5, gravity=1)) == pytest.approx(0.5)


def test_future_timestamps_and_negative_counts_do_not_inflate_the_score():
    weights = RankWeights()
    assert score(0, 0, -5.0, weights) == score(0, 0, 0.0, weights)
    assert score(-3, -1, 1.0, weights) == score(0, 0, 1.0, weights)


def test_equal_scores_put_the_newer_post_first_and_own_posts_get_no_affinity():
    posts = [
        make_post(10, 2, hours=1, likes=0),
        make_post(11, 3, hours=1, likes=0),
        make_post(12, 1, hours=1, likes=0),
    ]
    ranked = rank(posts, viewer_id=1, affinities={1: 9}, weights=RankWeights(), now=NOW)
    assert [p.id for p in ranked] == [12, 11, 10]


def test_affinity_lifts_an_author_above_fresher_posts():
    posts = [make_post(1, 2, hours=5, likes=0), make_post(2, 3, hours=0, likes=0)]
    ranked = rank(posts, viewer_id=9, affinities={2: 20}, weights=RankWeights(), now=NOW)
    assert [p.id for p in ranked] == [1, 2]
