"""Pure pieces: settings parsing, retry schedule, decoding, handler injection, the bus."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from fanout_worker import handlers
from fanout_worker.bootstrap import inject
from fanout_worker.consumer import is_permanent
from fanout_worker.fanout import alongside
from fanout_worker.messagebus import MessageBus, NoHandler
from fanout_worker.messages import ChunkTask, Decoded, PoisonMessage, decode_chunk, decode_event
from fanout_worker.redelivery import attempt_of, retry_delay_ms
from fanout_worker.settings import Settings
from feedline_shared.events import EVENT_TYPES, EventEnvelope, PostCreated, UserUpdated
from feedline_shared.problems import BadRequest, DependencyUnavailable, NotFound, RateLimited


def test_retry_delays_are_read_from_a_comma_separated_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RETRY_DELAYS_MS", "250, 1000,4000")
    assert Settings().retry_delays_ms == [250, 1000, 4000]
    monkeypatch.setenv("RETRY_DELAYS_MS", "0")
    with pytest.raises(ValueError, match="positive"):
        Settings()


def test_defaults_match_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RETRY_DELAYS_MS", "MAX_ATTEMPTS", "REDIS_URL", "AMQP_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.port == 8004
    assert settings.retry_delays_ms == [1000, 5000, 30000, 120000, 600000]
    assert (settings.max_attempts, settings.timeline_cap, settings.timeline_ttl_days) == (
        10,
        800,
        30,
    )
    assert settings.celebrity_follower_threshold == 20_000
    assert (settings.fanout_chunk_size, settings.events_prefetch, settings.chunks_prefetch) == (
        5000,
        32,
        2,
    )


def test_retry_schedule_reuses_the_last_delay_and_stops_at_max_attempts() -> None:
    delays = [50, 100]
    assert [retry_delay_ms(a, delays, 5) for a in range(1, 6)] == [50, 100, 100, 100, None]
    assert retry_delay_ms(1, delays, 1) is None


def test_attempt_header_defaults_to_the_first_attempt() -> None:
    assert attempt_of(None) == 1
    assert attempt_of({"x-attempt": 3}) == 3
    assert attempt_of({"x-attempt": "garbage"}) == 1
    assert attempt_of({"x-attempt": 0}) == 1


def test_events_decode_to_their_typed_payload() -> None:
    event = PostCreated(post_id=5, author_id=6, created_at=datetime.now(UTC))
    envelope = EventEnvelope.wrap(event)
    decoded = decode_event(envelope.to_bytes())
    assert decoded == Decoded(event, str(envelope.event_id), "post.created")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "undecodable event envelope"),
        (b"[1, 2]", "undecodable event envelope"),
        (EventEnvelope(type="nope", data={}).to_bytes(), "unknown event type 'nope'"),
        (EventEnvelope(type="user.updated", data={}).to_bytes(), "invalid user.updated payload"),
    ],
)
def test_undecodable_events_are_poison(body: bytes, reason: str) -> None:
    with pytest.raises(PoisonMessage, match=reason):
        decode_event(body)


def test_chunk_tasks_round_trip_and_reject_garbage() -> None:
    task = ChunkTask(event_id="e", post_id=1, author_id=2, cursor="abc", op="remove")
    assert decode_chunk(task.model_dump_json().encode()).message == task
    with pytest.raises(PoisonMessage, match="invalid fan-out chunk"):
        decode_chunk(b'{"op": "explode"}')


def test_only_refusals_by_other_services_are_permanent() -> None:
    assert is_permanent(NotFound("no such user"))
    assert is_permanent(BadRequest("bad cursor"))
    assert not is_permanent(DependencyUnavailable("user-service answered 503"))
    assert not is_permanent(RateLimited(1))
    assert not is_permanent(TimeoutError())


def test_every_event_type_and_chunks_have_a_handler() -> None:
    assert set(handlers.HANDLERS) == {*EVENT_TYPES.values(), ChunkTask}


async def test_injection_binds_named_dependencies_and_refuses_unknown_ones() -> None:
    seen: list[tuple[object, str, object]] = []

    async def handler(event: UserUpdated, event_id: str, *, redis: object) -> None:
        seen.append((event, event_id, redis))

    bus = MessageBus({UserUpdated: inject(handler, {"redis": "R", "other": "O"})})
    event = UserUpdated(user_id=1)
    event_id = str(uuid.uuid4())
    await bus.handle(Decoded(event, event_id, event.type))
    assert seen == [(event, event_id, "R")]
    with pytest.raises(TypeError, match="unknown dependencies"):
        inject(handler, {})
    with pytest.raises(NoHandler):
        await bus.handle(
            Decoded(
                PostCreated(post_id=1, author_id=1, created_at=datetime.now(UTC)),
                "e",
                "post.created",
            )
        )


async def test_alongside_runs_both_to_the_end_and_raises_a_failure_as_itself() -> None:
    finished: list[str] = []

    async def step(name: str, delay: float, error: Exception | None = None) -> str:
        await asyncio.sleep(delay)
        finished.append(name)
        if error is not None:
            raise error
        return name

    assert await alongside(step("main", 0.02), step("side", 0.01)) == "main"
    assert finished == ["side", "main"], "the two ran at once"

    finished.clear()
    with pytest.raises(NotFound):
        await alongside(step("main", 0, NotFound("gone")), step("side", 0.02))
    assert finished == ["main", "side"], "a failing main step leaves the side step to finish"

    with pytest.raises(DependencyUnavailable) as raised:
        await alongside(step("main", 0.01), step("side", 0, DependencyUnavailable("redis")))
    assert is_permanent(raised.value) is False
