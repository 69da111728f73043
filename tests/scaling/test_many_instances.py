"""Two gateways, two post-services, two feed-services and two workers side by side: every
instance sees the same state, because none of it lives in a process."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx
from feedline_client import Feedline, eventually
from metrics_text import metric_value
from scaling_deployment import FANOUT_CHUNK_SIZE, Deployment

from feedline_shared.ids import MAX_NODE, SEQUENCE_BITS

T = TypeVar("T")

REBUILDS = "feedline_feed_rebuild_duration_seconds_count"
TIMELINE_WRITES = "feedline_fanout_timeline_writes_total"


def samples(url: str, name: str) -> list[tuple[str, float]]:
    """``(labels, value)`` of every sample of ``name`` on a /metrics page."""
    found = []
    for line in httpx.get(url, timeout=5).text.splitlines():
        head, _, value = line.rpartition(" ")
        if head.startswith(name + "{"):
            found.append((head[len(name) :], float(value)))
    return found


def wait_until_settled(deployment: Deployment) -> None:
    """Until every event published so far has been handled by a worker, so that events of
    earlier tests cannot land in a window this test counts."""
    publishers = [
        deployment.metrics_url(deployment.first, "user-service"),
        deployment.metrics_url(deployment.first, "post-service"),
        deployment.metrics_url(deployment.second, "post-service"),
    ]
    workers = [
        deployment.metrics_url(system, "fanout-worker")
        for system in (deployment.first, deployment.second)
    ]

    def settled() -> bool:
        if any(
            metric_value(url, "feedline_outbox_backlog", {"service": service}) > 0
            for url, service in zip(
                publishers, ("user-service", "post-service", "post-service"), strict=True
            )
        ):
            return False
        published = sum(
            value
            for url in publishers
            for _, value in samples(url, "feedline_outbox_published_total")
        )
        handled = sum(
            value
            for url in workers
            for labels, value in samples(url, "feedline_fanout_events_total")
            if 'type="fanout.chunk"' not in labels and 'outcome="retry"' not in labels
        )
        return handled >= published

    eventually(settled, timeout=30)


def node_of(post_id: str) -> int:
    return (int(post_id) >> SEQUENCE_BITS) & MAX_NODE


def concurrently(calls: list[Callable[[], T]]) -> list[T]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_posts_through_one_gateway_appear_in_feeds_read_through_the_other(
    api: Feedline, api_b: Feedline
) -> None:
    author, reader = api.register("author"), api.register("reader")
    api_b.follow(reader, author)
    assert api_b.feed_ids(reader) == []

    through_a = api.post(author, "through gateway A")
    through_b = api_b.post(author, "through gateway B")
    expected = [through_b["id"], through_a["id"]]
    eventually(lambda: api_b.feed_ids(reader) == expected)
    # Not at once: a timeline still empty is read from the databases, one holding only the
    # first post shows that until the second is fanned out; both instances converge.
    eventually(lambda: api.feed_ids(reader) == expected)

    api.unfollow(reader, author)
    assert api_b.feed_ids(reader) == []


def test_two_post_services_never_issue_the_same_id(api: Feedline, api_b: Feedline) -> None:
    author = api.register("prolific")
    per_gateway = 15
    posts = concurrently(
        [lambda n=n: api.post(author, f"a {n}") for n in range(per_gateway)]
        + [lambda n=n: api_b.post(author, f"b {n}") for n in range(per_gateway)]
    )
    ids = [post["id"] for post in posts]
    assert len(set(ids)) == 2 * per_gateway
    assert {node_of(i) for i in ids[:per_gateway]} == {1}
    assert {node_of(i) for i in ids[per_gateway:]} == {2}


def test_concurrent_first_reads_on_both_feed_services_rebuild_once(
    api: Feedline, api_b: Feedline, deployment: Deployment
) -> None:
    author, reader = api.register("author"), api.register("cold")
    posts = [api.post(author, f"old {n}")["id"] for n in range(3)]
    api.follow(reader, author)
    feeds = [
        deployment.metrics_url(deployment.first, "feed-service"),
        deployment.metrics_url(deployment.second, "feed-service"),
    ]
    before = [metric_value(url, REBUILDS) for url in feeds]

    pages = concurrently([lambda: api.feed_ids(reader), lambda: api_b.feed_ids(reader)] * 4)

    assert all(page == posts[::-1] for page in pages), pages
    after = [metric_value(url, REBUILDS) for url in feeds]
    assert sum(after) - sum(before) == 1, (before, after)


def test_two_workers_deliver_each_post_once_per_timeline(
    api: Feedline, api_b: Feedline, deployment: Deployment
) -> None:
    author = api.register("author")
    followers = [api.register("follower") for _ in range(3 * FANOUT_CHUNK_SIZE)]
    for follower in followers:
        api.follow(follower, author)
    for account in (author, *followers):
        assert api.feed_ids(account) is not None  # builds the timeline, so fan-out writes it
    workers = [
        deployment.metrics_url(deployment.first, "fanout-worker"),
        deployment.metrics_url(deployment.second, "fanout-worker"),
    ]
    wait_until_settled(deployment)
    before = [metric_value(url, TIMELINE_WRITES, {"op": "add"}) for url in workers]

    gateways = (api, api_b)
    posts = [gateways[n % 2].post(author, f"fan {n}")["id"] for n in range(4)]
    expected_writes = len(posts) * (len(followers) + 1)

    def added() -> list[float]:
        return [
            metric_value(url, TIMELINE_WRITES, {"op": "add"}) - start
            for url, start in zip(workers, before, strict=True)
        ]

    eventually(lambda: sum(added()) >= expected_writes, timeout=30)
    for n, follower in enumerate(followers):
        reader = gateways[n % 2]
        assert reader.feed_ids(follower) == posts[::-1]

    # A later post through the same queues is delivered after any redelivery of these would be.
    barrier = api.post(author, "barrier")["id"]
    eventually(lambda: all(barrier in api.feed_ids(f) for f in followers[:1]))
    eventually(lambda: sum(added()) >= expected_writes + len(followers) + 1)
    per_worker = added()
    assert sum(per_worker) == expected_writes + len(followers) + 1, per_worker
    assert all(count > 0 for count in per_worker), per_worker
