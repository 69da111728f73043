"""Opaque pagination cursors: url-safe base64 of a small JSON object, checked on the way in."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from feedline_shared.problems import BadRequest

MAX_CURSOR_LENGTH = 512


def encode_cursor(fields: dict[str, Any]) -> str:
    raw = orjson.dumps(fields)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None, *, required: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """The cursor's fields, or None for the first page; a cursor that does not decode is a 400."""
    if cursor is None or cursor == "":
        return None
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadRequest("Invalid cursor")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        fields = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError) as exc:
        raise BadRequest("Invalid cursor") from exc
    if not isinstance(fields, dict) or any(key not in fields for key in required):
        raise BadRequest("Invalid cursor")
    return fields


def cursor_int(fields: dict[str, Any], key: str) -> int:
    """An integer field of a decoded cursor (ids travel as strings), or a 400."""
    value = fields.get(key)
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise BadRequest("Invalid cursor") from exc
    if not 0 <= number < (1 << 63):
        raise BadRequest("Invalid cursor")
    return number
