"""Versioned event contracts carried over RabbitMQ. The routing key is the event type.

Every message body is an :class:`EventEnvelope`; ``data`` holds the typed payload for ``type``.
Consumers deduplicate on ``event_id``: delivery is at least once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field


class EventData(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    type: ClassVar[str]
    version: ClassVar[int] = 1


class PostCreated(EventData):
    type: ClassVar[str] = "post.created"
    post_id: int
    author_id: int
    created_at: datetime


class PostDeleted(EventData):
    type: ClassVar[str] = "post.deleted"
    post_id: int
    author_id: int


class PostLiked(EventData):
    type: ClassVar[str] = "post.liked"
    post_id: int
    author_id: int
    user_id: int
    like_count: int


class PostUnliked(EventData):
    type: ClassVar[str] = "post.unliked"
    post_id: int
    author_id: int
    user_id: int
    like_count: int


class UserFollowed(EventData):
    type: ClassVar[str] = "user.followed"
    follower_id: int
    followee_id: int
    #: The most followers the followee ever had, this follow included (None from a user-service
    #: of the previous release): the worker repeats the drop of its followers' follow sets when
    #: this follow took it past the celebrity threshold.
    followee_peak_followers: int | None = None

    def took_followee_past(self, celebrity_threshold: int) -> bool:
        """Whether this follow took the followee's follower peak just past the threshold (the
        first such follow included): its followers' cached follow sets still say it is small.
        Unknown (False) for an event without the peak."""
        return self.followee_peak_followers == celebrity_threshold + 1


class UserUnfollowed(EventData):
    type: ClassVar[str] = "user.unfollowed"
    follower_id: int
    followee_id: int


class UserUpdated(EventData):
    type: ClassVar[str] = "user.updated"
    user_id: int


class UserDeleted(EventData):
    """The account is gone; its posts and likes are erased by post-service on this event."""

    type: ClassVar[str] = "user.deleted"
    user_id: int


EVENT_TYPES: dict[str, type[EventData]] = {
    cls.type: cls
    for cls in (
        PostCreated,
        PostDeleted,
        PostLiked,
        PostUnliked,
        UserFollowed,
        UserUnfollowed,
        UserUpdated,
        UserDeleted,
    )
}


class EventEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    data: dict[str, object]

    @classmethod
    def wrap(cls, data: EventData) -> EventEnvelope:
        return cls(type=data.type, version=data.version, data=data.model_dump(mode="json"))

    def payload(self) -> EventData:
        """The typed payload; raises ``UnknownEvent`` or pydantic's ``ValidationError``."""
        event_cls = EVENT_TYPES.get(self.type)
        if event_cls is None:
            raise UnknownEvent(self.type)
        return event_cls.model_validate(self.data)

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, body: bytes) -> EventEnvelope:
        return cls.model_validate_json(body)


class UnknownEvent(ValueError):
    pass
