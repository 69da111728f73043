"""Wire formats of the shared public objects."""

from datetime import UTC, datetime, timedelta, timezone

from feedline_shared.schemas import Post, UserSummary, format_time


def test_times_are_utc_with_milliseconds_and_z_whatever_their_zone() -> None:
    instant = datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)
    plus_two = instant.astimezone(timezone(timedelta(hours=2)))
    assert format_time(instant) == "2026-11-20T10:00:00.123Z"
    assert format_time(plus_two) == "2026-11-20T10:00:00.123Z"
    assert format_time(instant.replace(tzinfo=None)) == "2026-11-20T10:00:00.123Z"
    # Remembered texts never stand in for another instant.
    assert format_time(instant + timedelta(milliseconds=1)) == "2026-11-20T10:00:00.124Z"
    assert format_time(plus_two.replace(tzinfo=None)) == "2026-11-20T12:00:00.123Z"


def test_a_post_serialises_ids_as_strings_and_its_time_in_the_wire_format() -> None:
    post = Post.model_validate(
        {
            "id": 2**62,
            "author": UserSummary(id=5, username="bob", display_name="Bob"),
            "caption": "hi",
            "media_url": None,
            "created_at": "2026-11-20T12:00:00.5+02:00",
            "like_count": 1,
            "liked_by_me": True,
        }
    )
    assert post.model_dump(mode="json") == {
        "id": str(2**62),
        "author": {"id": "5", "username": "bob", "display_name": "Bob"},
        "caption": "hi",
        "media_url": None,
        "created_at": "2026-11-20T10:00:00.500Z",
        "like_count": 1,
        "liked_by_me": True,
    }
