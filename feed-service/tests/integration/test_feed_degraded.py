"""Degraded modes, errors and operations."""

import base64

import orjson
from feed_standins import ids_of, newest_first, read_page

from feedline_shared import caches

VIEWER = 1


async def test_feed_is_served_from_the_services_when_redis_is_unreachable(make_client, graph):
    client = await make_client(redis_url="redis://127.0.0.1:1/0", internal_timeout_seconds=1.0)
    graph.follow(VIEWER, 2, 50)
    graph.followers_override[50] = 1_000_000
    posts = graph.add_posts([2, 50, VIEWER] * 10)

    first = await read_page(client, limit=12)
    second = await read_page(client, limit=100, cursor=first["next_cursor"])
    ranked = await read_page(client, limit=12, ranking="ranked")
    ranked_next = await read_page(client, limit=100, ranking="ranked", cursor=ranked["next_cursor"])

    assert ids_of(first) + ids_of(second) == newest_first(posts)
    assert second["next_cursor"] is None
    assert ids_of(ranked) + ids_of(ranked_next) == newest_first(posts)
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["redis"]


async def test_user_service_down_serves_the_cached_follow_set(client, graph):
    graph.follow(VIEWER, 2, 3)
    posts = graph.add_posts([2, 3, VIEWER] * 5)
    await read_page(client)
    graph.users_down = True
    calls = len(graph.calls_to("following"))

    page = await read_page(client, limit=50)

    assert ids_of(page) == newest_first(posts)
    assert len(graph.calls_to("following")) == calls


async def test_user_service_down_serves_the_built_timeline_with_the_last_known_follows(
    client, graph, redis
):
    graph.follow(VIEWER, 2, 3)
    posts = graph.add_posts([2, 3, VIEWER] * 5)
    await read_page(client)
    graph.users_down = True
    await redis.delete(caches.following_key(VIEWER))  # the cached copy has expired

    page = await read_page(client, limit=50)

    assert ids_of(page) == newest_first(posts)
    ready = await client.get("/readyz")
    assert ready.json()["failing"] == ["user-service"]


async def test_user_service_down_without_a_timeline_is_503(client, graph):
    graph.users_down = True
    response = await client.get("/feed")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


async def test_post_service_down_is_503(client, graph):
    graph.follow(VIEWER, 2)
    graph.posts_down = True
    response = await client.get("/feed")
    assert response.status_code == 503
    assert response.json()["status"] == 503
    ready = await client.get("/readyz")
    assert ready.json()["failing"] == ["post-service"]


def raw_cursor(fields: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(fields)).rstrip(b"=").decode()


async def test_invalid_tampered_or_foreign_cursors_are_400(client, graph):
    graph.follow(VIEWER, 2)
    graph.add_posts([2] * 30)
    chronological = (await read_page(client, limit=5))["next_cursor"]
    ranked = (await read_page(client, limit=5, ranking="ranked"))["next_cursor"]
    cases = [
        ({"cursor": "not a cursor!"}, "Invalid cursor"),
        ({"cursor": raw_cursor({"r": "c", "b": "abc"})}, "Invalid cursor"),
        ({"cursor": raw_cursor({"r": "c", "b": str(1 << 64)})}, "Invalid cursor"),
        ({"cursor": raw_cursor({"r": "x", "b": "5"})}, "Invalid cursor"),
        ({"cursor": raw_cursor([1, 2])}, "Invalid cursor"),
        (
            {"cursor": raw_cursor({"r": "r", "s": "../../etc", "o": 5}), "ranking": "ranked"},
            "Invalid cursor",
        ),
        ({"cursor": chronological, "ranking": "ranked"}, "chronological feed"),
        ({"cursor": ranked}, "ranked feed"),
    ]
    for params, detail in cases:
        response = await client.get("/feed", params=params)
        assert response.status_code == 400, params
        assert response.headers["content-type"] == "application/problem+json"
        assert detail in response.json()["detail"]


async def test_bad_query_parameters_are_422(client):
    for params in ({"limit": 0}, {"limit": 101}, {"ranking": "random"}):
        response = await client.get("/feed", params=params)
        assert response.status_code == 422, params
        assert response.json()["errors"]


async def test_the_feed_needs_the_internal_credential_and_a_user(make_client):
    anonymous = await make_client(user_id=None)
    assert (await anonymous.get("/feed")).status_code == 401
    response = await anonymous.get("/feed", headers={"X-Internal-Token": "wrong"})
    assert response.status_code == 401


async def test_metrics_count_feed_sources(client, graph):
    graph.follow(VIEWER, 2)
    graph.add_posts([2] * 3)
    await read_page(client)
    await read_page(client)
    text = (await client.get("/metrics")).text
    assert 'feedline_feed_requests_total{source="rebuild"}' in text
    assert 'feedline_feed_requests_total{source="hit"}' in text
    assert "feedline_feed_rebuild_duration_seconds_count" in text
    assert 'feedline_feed_timeline_reads_total{result="miss"}' in text
    assert 'feedline_http_request_duration_seconds_count{method="GET",route="/feed"' in text
