"""What arrives on the worker's queues, and how a raw body becomes a typed message.

The events queue carries :class:`~feedline_shared.events.EventEnvelope` bodies; the chunks queue
carries :class:`ChunkTask` bodies, one page of a large fan-out each. A body that cannot become a
typed message raises :class:`PoisonMessage`: retrying it can never succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from feedline_shared.events import EventData, EventEnvelope, UnknownEvent

FanOutOp = Literal["add", "remove"]


class ChunkTask(BaseModel):
    """One page of a fan-out still to write: the followers after ``cursor``."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    type: ClassVar[str] = "fanout.chunk"

    event_id: str
    post_id: int
    author_id: int
    created_at: datetime | None = None
    cursor: str
    op: FanOutOp
    #: Unix time when the first page was written, for the per-post fan-out duration.
    started_at: float | None = None
    #: The fan-out's claim on the timelines' high-water mark (feedline_shared.timeline_mark):
    #: set while every page so far was on its first delivery, so this page may push blindly.
    chain: str | None = None


Message = EventData | ChunkTask


@dataclass(frozen=True, slots=True)
class Decoded:
    message: Message
    event_id: str
    type: str


class PoisonMessage(ValueError):
    """A body that will never decode; it goes to the dead-letter queue at once."""


def _summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
        for err in exc.errors()[:5]
    )


def decode_event(body: bytes) -> Decoded:
    try:
        envelope = EventEnvelope.from_bytes(body)
    except ValidationError as exc:
        raise PoisonMessage(f"undecodable event envelope: {_summary(exc)}") from exc
    try:
        payload = envelope.payload()
    except UnknownEvent as exc:
        raise PoisonMessage(f"unknown event type {envelope.type!r}") from exc
    except ValidationError as exc:
        raise PoisonMessage(f"invalid {envelope.type} payload: {_summary(exc)}") from exc
    return Decoded(payload, str(envelope.event_id), envelope.type)


def decode_chunk(body: bytes) -> Decoded:
    try:
        task = ChunkTask.model_validate_json(body)
    except ValidationError as exc:
        raise PoisonMessage(f"invalid fan-out chunk: {_summary(exc)}") from exc
    return Decoded(task, task.event_id, ChunkTask.type)
