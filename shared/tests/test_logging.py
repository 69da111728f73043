"""Every log line is one JSON object carrying the service and the id of the work in progress."""

from __future__ import annotations

import logging
import sys

import orjson

from feedline_shared.context import event_id_var, request_id_var
from feedline_shared.logging import JsonFormatter


def record(message: str, **extra: object) -> logging.LogRecord:
    return logging.makeLogRecord(
        {"name": "feedline.test", "levelname": "WARNING", "msg": message, **extra}
    )


def test_a_line_is_json_with_the_service_and_the_request_id() -> None:
    token = request_id_var.set("req-123")
    try:
        line = JsonFormatter("post-service").format(record("hello %s", args=("you",), route="/x"))
    finally:
        request_id_var.reset(token)
    fields = orjson.loads(line)
    assert fields["service"] == "post-service"
    assert fields["request_id"] == "req-123"
    assert fields["msg"] == "hello you"
    assert fields["level"] == "warning"
    assert fields["route"] == "/x"
    assert fields["ts"].endswith("+00:00")
    assert "event_id" not in fields


def test_a_line_written_while_handling_an_event_names_the_event() -> None:
    token = event_id_var.set("5f0c6a3e-event")
    try:
        fields = orjson.loads(JsonFormatter("fanout-worker").format(record("fanned out")))
    finally:
        event_id_var.reset(token)
    assert fields["event_id"] == "5f0c6a3e-event"
    assert "request_id" not in fields


def test_an_exception_and_odd_values_still_make_one_json_line() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        exc_info = sys.exc_info()
    line = JsonFormatter("gateway").format(record("failed", exc_info=exc_info, weird=object()))
    assert "\n" not in line
    fields = orjson.loads(line)
    assert "ValueError: boom" in fields["exc"]
    assert fields["weird"].startswith("<object object")
