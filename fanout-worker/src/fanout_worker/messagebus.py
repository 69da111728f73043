"""Maps a message type to its handler and calls it (cosmicpython's message bus, for one queue
consumer at a time: no follow-up events are collected, the handlers publish what they must)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fanout_worker.messages import Decoded

#: A handler with its dependencies bound: ``(message, event_id)``.
BoundHandler = Callable[[Any, str], Awaitable[None]]


class NoHandler(LookupError):
    pass


class MessageBus:
    def __init__(self, handlers: Mapping[type, BoundHandler]) -> None:
        self.handlers = dict(handlers)

    async def handle(self, decoded: Decoded) -> None:
        handler = self.handlers.get(type(decoded.message))
        if handler is None:
            raise NoHandler(f"no handler for {decoded.type}")
        await handler(decoded.message, decoded.event_id)
