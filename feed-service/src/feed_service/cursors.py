"""The feed's cursors, on top of ``feedline_shared.cursors`` (opaque url-safe base64 JSON).

- chronological ``{"r": "c", "b": "<id>"}``: items strictly older than ``b``;
- ranked, inside the ranked window ``{"r": "r", "s": "<snapshot>", "o": <offset>}``;
- ranked, past the window ``{"r": "r", "b": "<id>"}``: chronological below ``b``.

A cursor that does not decode, or that belongs to the other ranking, is a 400 problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from feedline_shared.cursors import cursor_int, decode_cursor, encode_cursor
from feedline_shared.problems import BadRequest

SNAPSHOT_ID = re.compile(r"^[0-9a-f]{16}$")
MAX_OFFSET = 10_000


class Ranking(StrEnum):
    chronological = "chronological"
    ranked = "ranked"


_TAG = {Ranking.chronological: "c", Ranking.ranked: "r"}


@dataclass(frozen=True, slots=True)
class FeedCursor:
    """Where a page starts: below ``before``, or at ``offset`` of a ranked ``snapshot``."""

    before: int | None = None
    snapshot: str | None = None
    offset: int = 0


def decode_feed_cursor(raw: str | None, ranking: Ranking) -> FeedCursor | None:
    fields = decode_cursor(raw, required=("r",))
    if fields is None:
        return None
    tag = fields["r"]
    if tag not in _TAG.values():
        raise BadRequest("Invalid cursor")
    if tag != _TAG[ranking]:
        other = "ranked" if tag == "r" else "chronological"
        raise BadRequest(
            f"This cursor belongs to the {other} feed; use the same ranking as the first page"
        )
    if "b" in fields:
        return FeedCursor(before=cursor_int(fields, "b"))
    if ranking is Ranking.ranked and "s" in fields and "o" in fields:
        snapshot, offset = fields["s"], fields["o"]
        if not isinstance(snapshot, str) or not SNAPSHOT_ID.match(snapshot):
            raise BadRequest("Invalid cursor")
        if not isinstance(offset, int) or isinstance(offset, bool) or not 0 < offset < MAX_OFFSET:
            raise BadRequest("Invalid cursor")
        return FeedCursor(snapshot=snapshot, offset=offset)
    raise BadRequest("Invalid cursor")


def before_cursor(ranking: Ranking, before: int | None) -> str | None:
    """The cursor of the next page below ``before``; None (the end) when there is none."""
    if before is None:
        return None
    return encode_cursor({"r": _TAG[ranking], "b": str(before)})


def snapshot_cursor(snapshot: str, offset: int) -> str:
    return encode_cursor({"r": "r", "s": snapshot, "o": offset})
