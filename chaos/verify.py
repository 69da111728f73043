"""The checks run once the load has stopped and the system has drained."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import asyncpg
import httpx

from chaos.environment import RETRY_DELAYS_MS
from chaos.faults import FaultWindow
from chaos.load import Account, Ledger, Outcome

WORK_QUEUES = ("fanout-worker.events", "fanout-worker.chunks")
DLQ = "fanout-worker.dlq"
RETRY_QUEUES = tuple(f"fanout-worker.retry.{delay}" for delay in RETRY_DELAYS_MS)
FEED_SAMPLE = 12


@dataclass(frozen=True)
class Check:
    name: str
    value: str
    ok: bool


def in_window(outcome: Outcome, windows: list[FaultWindow]) -> bool:
    """Whether a request overlapped a fault window (a window that never recovered is open)."""
    for window in windows:
        end = window.recovered if window.recovered is not None else float("inf")
        if outcome.started <= end and outcome.ended >= window.started:
            return True
    return False


async def drain(
    admin_dsn: str,
    amqp_url: str,
    queue_depths: Callable[[], dict[str, int]],
    within: float,
) -> tuple[bool, float, dict[str, int]]:
    """Polls until both outboxes hold no unsent row and the worker's queues are empty.

    Cheap readings (ready messages, from passive declares) are polled; once two in a row are
    empty, rabbitmqctl confirms that no message is held unacknowledged either. Returns whether
    the system drained, how long it took, and the last figures seen.
    """
    started = time.monotonic()
    deadline = started + within
    figures: dict[str, int] = {}
    calm = 0
    connection = await aio_pika.connect(amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        while True:
            figures = await backlog(admin_dsn, channel)
            busy = {k: v for k, v in figures.items() if k != DLQ and v}
            # Two empty readings in a row: a message may sit between a retry queue and its origin.
            calm = calm + 1 if not busy else 0
            if calm >= 2:
                depths = await asyncio.to_thread(queue_depths)
                figures.update({k: v for k, v in depths.items() if k.startswith("fanout-worker.")})
                if not any(v for k, v in figures.items() if k != DLQ):
                    return True, time.monotonic() - started, figures
                calm = 0
            if time.monotonic() > deadline:
                return False, time.monotonic() - started, figures
            await asyncio.sleep(0.3)


async def backlog(admin_dsn: str, channel: aio_pika.abc.AbstractChannel) -> dict[str, int]:
    conn = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        figures = {
            f"{schema}.outbox unsent": await conn.fetchval(
                f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL"  # noqa: S608
            )
            for schema in ("users", "posts")
        }
    finally:
        await conn.close()
    for name in (*WORK_QUEUES, *RETRY_QUEUES, DLQ):
        queue = await channel.declare_queue(name, passive=True)
        figures[name] = queue.declaration_result.message_count or 0
    return figures


async def dead_letters(amqp_url: str, limit: int = 1000) -> list[dict[str, object]]:
    """Headers of the messages in the DLQ, read without removing them."""
    connection = await aio_pika.connect(amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(DLQ, passive=True)
        headers: list[dict[str, object]] = []
        for _ in range(limit):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            headers.append(dict(message.headers or {}))
        # Closing the channel unacknowledged puts every message back.
        await channel.close()
    return headers


def count_dead_letter_logs(worker_log: Path) -> int:
    if not worker_log.exists():
        return 0
    return worker_log.read_text(errors="replace").count("message dead-lettered")


async def feed_ids(client: httpx.AsyncClient, account: Account) -> list[str] | str:
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(200):
        params: dict[str, object] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/feed", params=params, headers=account.headers)
        if response.status_code != 200:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        page = response.json()
        ids.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids
    return "feed paging did not end"


async def verify(
    ledger: Ledger,
    windows: list[FaultWindow],
    *,
    gateway_url: str,
    admin_dsn: str,
    amqp_url: str,
    queue_depths: Callable[[], dict[str, int]],
    worker_log: Path,
    drain_within: float,
) -> tuple[list[Check], dict[str, object]]:
    checks: list[Check] = []
    figures: dict[str, object] = {}

    drained, drain_seconds, backlog_figures = await drain(
        admin_dsn, amqp_url, queue_depths, drain_within
    )
    figures["drain_seconds"] = round(drain_seconds, 1)
    figures["backlog_after_drain"] = backlog_figures
    for name in ("users.outbox unsent", "posts.outbox unsent", *WORK_QUEUES):
        value = backlog_figures.get(name, 0)
        checks.append(Check(f"{name} = 0 after drain", str(value), value == 0))
    retry_left = sum(v for k, v in backlog_figures.items() if k.startswith("fanout-worker.retry."))
    checks.append(Check("retry queues empty after drain", str(retry_left), retry_left == 0))
    checks.append(Check(f"drained within {drain_within:.0f} s", f"{drain_seconds:.1f} s", drained))

    conn = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        post_rows = {
            str(r["id"]): r["deleted_at"] is None
            for r in await conn.fetch("SELECT id, deleted_at FROM posts.posts")
        }
        follow_rows = {
            (str(r["follower_id"]), str(r["followee_id"]))
            for r in await conn.fetch("SELECT follower_id, followee_id FROM users.follows")
        }
        like_rows = {
            (str(r["user_id"]), str(r["post_id"]))
            for r in await conn.fetch("SELECT user_id, post_id FROM posts.likes")
        }
        user_rows = {str(r["id"]) for r in await conn.fetch("SELECT id FROM users.users")}
    finally:
        await conn.close()

    # Acknowledged writes. What a deleted account (or one whose deletion got no answer) wrote is
    # checked against the deletion instead, below.
    touched = ledger.touched_by_deletion()
    live_acked = [
        p
        for p, author in ledger.posts.items()
        if p not in ledger.deleted | ledger.delete_uncertain and author not in touched
    ]
    lost_posts = [p for p in live_acked if not post_rows.get(p, False)]
    checks.append(
        Check(
            "posts with 201 exist",
            f"{len(live_acked) - len(lost_posts)}/{len(live_acked)}",
            not lost_posts,
        )
    )
    undeleted = [p for p in ledger.deleted if post_rows.get(p, False)]
    checks.append(
        Check(
            "posts with 204 delete are gone",
            f"{len(ledger.deleted) - len(undeleted)}/{len(ledger.deleted)}",
            not undeleted,
        )
    )
    definite = {
        k: s
        for k, s in ledger.follows.items()
        if not s.uncertain and s.acked is not None and not set(k) & touched
    }
    wrong_follows = [k for k, s in definite.items() if (k in follow_rows) != s.acked]
    checks.append(
        Check(
            "follow state = last acknowledged action",
            f"{len(definite) - len(wrong_follows)}/{len(definite)} pairs",
            not wrong_follows,
        )
    )
    acked_likes = [
        k
        for k, s in ledger.likes.items()
        if s.acked
        and not s.uncertain
        and k[0] not in touched
        and ledger.posts.get(k[1]) not in touched
    ]
    lost_likes = [k for k in acked_likes if k not in like_rows]
    checks.append(
        Check(
            "likes with 200 hold",
            f"{len(acked_likes) - len(lost_likes)}/{len(acked_likes)}",
            not lost_likes,
        )
    )
    # Acknowledged account deletions: everything of the account is gone, its token refused.
    survivors = [
        *(u for u in ledger.gone if u in user_rows),
        *(p for p, author in ledger.posts.items() if author in ledger.gone and post_rows.get(p)),
        *(f"{a}->{b}" for a, b in follow_rows if {a, b} & ledger.gone),
        *(f"like {u} {p}" for u, p in like_rows if u in ledger.gone),
    ]
    accounts = ledger.by_id()
    async with httpx.AsyncClient(base_url=f"{gateway_url}/api/v1", timeout=10) as client:
        for user_id in sorted(ledger.gone):
            me = await client.get("/users/me", headers=accounts[user_id].headers)
            if me.status_code != 401:
                survivors.append(f"token of {user_id}: HTTP {me.status_code}")
    checks.append(
        Check(
            "deleted accounts: row, posts, follows, likes gone, token 401",
            f"{len(survivors)} left for {len(ledger.gone)} accounts",
            not survivors,
        )
    )
    figures["lost"] = {
        "posts": lost_posts,
        "undeleted": undeleted,
        "follows": [list(k) for k in wrong_follows],
        "likes": [list(k) for k in lost_likes],
        "deleted_account_leftovers": survivors,
    }
    figures["lost_items"] = (
        len(lost_posts) + len(undeleted) + len(wrong_follows) + len(lost_likes) + len(survivors)
    )
    figures["accounts_deleted"] = len(ledger.gone)
    figures["uncertain"] = {
        "follow_pairs": sum(1 for s in ledger.follows.values() if s.uncertain),
        "deletes": len(ledger.delete_uncertain),
        "account_deletions": len(ledger.gone_uncertain),
    }

    # Feeds of a sample of active readers, against the databases.
    readers = sorted(ledger.readers - touched)[:FEED_SAMPLE]
    following: dict[str, set[str]] = {}
    for follower, followee in follow_rows:
        following.setdefault(follower, set()).add(followee)
    authors_live: dict[str, set[str]] = {}
    author_of = dict(ledger.posts)
    conn = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        for r in await conn.fetch("SELECT id, author_id FROM posts.posts WHERE deleted_at IS NULL"):
            authors_live.setdefault(str(r["author_id"]), set()).add(str(r["id"]))
            author_of[str(r["id"])] = str(r["author_id"])
    finally:
        await conn.close()
    deleted_ids = {p for p, live in post_rows.items() if not live}
    missing_total = dup_total = deleted_total = foreign_total = errors = 0
    feed_details: dict[str, object] = {}
    async with httpx.AsyncClient(base_url=f"{gateway_url}/api/v1", timeout=10) as client:
        for reader in readers:
            got = await feed_ids(client, accounts[reader])
            if isinstance(got, str):
                errors += 1
                feed_details[reader] = got
                continue
            expected: set[str] = set(authors_live.get(reader, set()))
            for followee in following.get(reader, set()):
                expected |= authors_live.get(followee, set())
            seen = Counter(got)
            missing = expected - seen.keys()
            dups = [p for p, n in seen.items() if n > 1]
            dead = [p for p in seen if p in deleted_ids]
            foreign = [p for p in seen if p not in expected and p not in deleted_ids]
            missing_total += len(missing)
            dup_total += len(dups)
            deleted_total += len(dead)
            foreign_total += len(foreign)
            if missing or dups or dead or foreign:
                feed_details[reader] = {
                    "missing": sorted(missing),
                    "duplicates": dups,
                    "deleted": dead,
                    "not_followed": [(p, author_of.get(p)) for p in foreign],
                }
    figures["feed_readers_checked"] = len(readers)
    figures["feed_problems"] = feed_details
    checks.append(Check("active readers checked", str(len(readers)), len(readers) > 0))
    checks.append(Check("feed reads failed at verification", str(errors), errors == 0))
    checks.append(
        Check("surviving followed posts missing from feeds", str(missing_total), missing_total == 0)
    )
    checks.append(Check("deleted posts in feeds", str(deleted_total), deleted_total == 0))
    checks.append(Check("duplicate posts in feeds", str(dup_total), dup_total == 0))
    checks.append(
        Check("posts of unfollowed accounts in feeds", str(foreign_total), foreign_total == 0)
    )

    # Responses.
    outside_5xx = [
        o for o in ledger.outcomes if o.status and o.status >= 500 and not in_window(o, windows)
    ]
    inside_5xx = [
        o for o in ledger.outcomes if o.status and o.status >= 500 and in_window(o, windows)
    ]
    bad_inside = [o for o in inside_5xx if o.status != 503 or not o.problem_json]
    timeouts = [o for o in ledger.outcomes if o.error and o.error.startswith("timeout")]
    outside_transport = [o for o in ledger.outcomes if o.error and not in_window(o, windows)]
    figures["status_counts"] = dict(
        sorted(Counter(str(o.status or o.error) for o in ledger.outcomes).items())
    )
    figures["5xx_outside_windows"] = len(outside_5xx)
    figures["5xx_inside_windows"] = len(inside_5xx)
    figures["5xx_samples"] = [o.__dict__ for o in (outside_5xx + bad_inside)[:20]]
    checks.append(Check("5xx outside fault windows", str(len(outside_5xx)), not outside_5xx))
    checks.append(
        Check(
            "5xx inside windows that are not 503 problem+json",
            f"{len(bad_inside)} of {len(inside_5xx)}",
            not bad_inside,
        )
    )
    checks.append(
        Check("requests that hung past the client timeout", str(len(timeouts)), not timeouts)
    )
    checks.append(
        Check(
            "connection errors outside fault windows",
            str(len(outside_transport)),
            not outside_transport,
        )
    )

    # Faults.
    unrecovered = [w.name for w in windows if w.recovered is None]
    checks.append(
        Check(
            "faults recovered (all /readyz 200)",
            f"{len(windows) - len(unrecovered)}/{len(windows)}",
            not unrecovered,
        )
    )

    # Dead letters.
    letters = await dead_letters(amqp_url)
    unexplained = [h for h in letters if not h.get("x-death-reason")]
    logged = await asyncio.to_thread(count_dead_letter_logs, worker_log)
    figures["dead_letters"] = [
        {k: str(v)[:200] for k, v in h.items() if k.startswith("x-")} for h in letters
    ]
    checks.append(
        Check(
            "DLQ messages without x-death-reason",
            f"{len(unexplained)} of {len(letters)}",
            not unexplained,
        )
    )
    checks.append(
        Check(
            "DLQ messages with a logged reason",
            f"{logged} log lines for {len(letters)}",
            logged >= len(letters),
        )
    )
    return checks, figures
