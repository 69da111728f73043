"""Fixed-window rate limits counted in Redis, failing open when Redis is unavailable.

The same script call also refuses a subject that carries a refusal marker (a deleted account),
so that check costs no round trip of its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from feedline_shared.problems import RateLimited, Unauthorized
from feedline_shared.redis import AnyRedis

logger = logging.getLogger(__name__)

KEY_PREFIX = "feedline:rl"

RATE_LIMITED = Counter(
    "feedline_gateway_rate_limited_total",
    "Requests refused with 429, by limit.",
    ["limit"],
)
RATE_LIMIT_FAIL_OPEN = Counter(
    "feedline_gateway_rate_limit_fail_open_total",
    "Requests served without a rate-limit check because Redis did not answer.",
    ["limit"],
)


# One command per request: the counter and its expiry are set together (a counter never
# outlives its window, even when the client goes away in between). KEYS[2], when given, is a
# marker whose presence refuses the request (-1) before anything is counted.
_HIT = """
if #KEYS > 1 and redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


def window_key(limit_name: str, subject: str, window: int) -> str:
    # The subject is the hash tag: a marker tagged the same way lives in the same cluster slot.
    return f"{KEY_PREFIX}:{limit_name}:{{{subject}}}:{window}"


#: One waiting script call: its keys, its arguments and where its answer goes.
_Call = tuple[list[str], list[Any], asyncio.Future[Any]]


class TurnBatchedScript:
    """Calls of one Lua script made in the same event-loop turn, sent as one pipeline.

    Every request's check still waits for Redis's answer; under load several requests are
    checked per turn, and they share one write, one read and one connection instead of each
    paying redis-py's per-command cost and a turn of its own. A single Redis only: on a cluster
    the keys of one turn live on different nodes, and each call goes on its own.
    """

    def __init__(self, redis: AnyRedis, source: str) -> None:
        self.redis = redis
        self.script = redis.register_script(source)
        self._batched = isinstance(redis, Redis)
        self._pending: list[_Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def __call__(self, *, keys: list[str], args: list[Any]) -> Any:
        if not self._batched:
            return await self.script(keys=keys, args=args)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        self._pending.append((keys, args, answer))
        if len(self._pending) == 1:
            loop.call_soon(self._send_turn)
        return await answer

    def _send_turn(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.create_task(self._send(batch))
        self._sending.add(task)  # a running task must be referenced until it ends
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Call]) -> None:
        try:
            answers = await self._execute(batch)
            if any(isinstance(answer, NoScriptError) for answer in answers):
                # Redis lost its scripts (a restart, SCRIPT FLUSH): load it once, send again.
                await self.redis.script_load(self.script.script)
                answers = await self._execute(batch)
        except asyncio.CancelledError:
            for _, _, answer in batch:
                answer.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - every waiting check gets the failure
            answers = [exc] * len(batch)
        for (_, _, answer), value in zip(batch, answers, strict=True):
            if answer.done():  # the request went away meanwhile
                continue
            if isinstance(value, BaseException):
                answer.set_exception(value)
            else:
                answer.set_result(value)

    async def _execute(self, batch: list[_Call]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                pipe.evalsha(self.script.sha, len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))


class SubjectRefused(Unauthorized):
    """The subject's refusal marker is set: the credentials belong to a deleted account."""


class FixedWindowLimiter:
    """At most ``limit`` hits per ``window_seconds`` for one subject; ``limit`` 0 disables it."""

    def __init__(self, redis: AnyRedis, *, name: str, limit: int, window_seconds: int) -> None:
        self.redis = redis
        self.name = name
        self.limit = limit
        self.window_seconds = window_seconds
        self._hit = TurnBatchedScript(redis, _HIT)

    async def hit(
        self, subject: str, *, now: float | None = None, refused_by: str | None = None
    ) -> None:
        """Counts one request; raises ``RateLimited`` (429 with Retry-After) past the limit, and
        ``SubjectRefused`` (401) when the key ``refused_by`` exists (same slot as the subject)."""
        if self.limit <= 0 and refused_by is None:
            return
        moment = time.time() if now is None else now
        window = int(moment // self.window_seconds)
        keys = [window_key(self.name, subject, window)]
        if refused_by is not None:
            keys.append(refused_by)
        try:
            count = int(await self._hit(keys=keys, args=[self.window_seconds + 1]))
        except (RedisError, OSError, TimeoutError) as exc:
            # A limiter must not take the API down with it: serve, and make the gap visible.
            # (The services still refuse a deleted account's writes on their own.)
            RATE_LIMIT_FAIL_OPEN.labels(self.name).inc()
            logger.warning(
                "rate limit not checked: redis unavailable",
                extra={"limit": self.name, "error": type(exc).__name__},
            )
            return
        if count < 0:
            raise SubjectRefused("The account behind these credentials has been deleted")
        if 0 < self.limit < count:
            RATE_LIMITED.labels(self.name).inc()
            window_end = (window + 1) * self.window_seconds
            raise RateLimited(max(1, math.ceil(window_end - moment)))
