"""The five processes on the Redis Cluster, walked through the gateway's public API."""

from __future__ import annotations

import httpx
from feedline_client import Feedline, eventually
from metrics_text import metric_value
from redis_cluster_nodes import RedisClusterNodes
from scaling_deployment import LIMITED_PER_PRINCIPAL, Deployment

from feedline_shared.timelines import meta_key_pattern


def test_follow_post_fan_out_unfollow_delete_on_the_cluster(
    api: Feedline, cluster: RedisClusterNodes
) -> None:
    author, reader = api.register("author"), api.register("reader")
    api.post(author, "before the follow")
    api.follow(reader, author)
    assert len(api.feed_ids(reader)) == 1  # built on first read, by the rebuild

    post = api.post(author, "fanned out")
    eventually(lambda: post["id"] in api.feed_ids(reader))

    own = api.post(reader, "my own")
    eventually(lambda: api.feed_ids(reader)[:2] == [own["id"], post["id"]])

    api.unfollow(reader, author)
    assert api.feed_ids(reader) == [own["id"]]

    api.follow(reader, author)
    assert post["id"] in api.feed_ids(reader)
    response = api.request("DELETE", f"/posts/{post['id']}", author)
    assert response.status_code == 204, response.text
    eventually(lambda: post["id"] not in api.feed_ids(reader))

    # The post's author summary, the timelines and their metadata all live in the cluster.
    assert sum(cluster.keys_per_node("feedline:user:*").values()) >= 2
    assert sum(cluster.keys_per_node(meta_key_pattern()).values()) >= 1


def test_likes_update_affinity_and_the_ranked_feed_pages_on_the_cluster(
    api: Feedline, cluster: RedisClusterNodes
) -> None:
    author, reader = api.register("liked"), api.register("liker")
    api.follow(reader, author)
    posts = [api.post(author, f"post {n}") for n in range(5)]
    response = api.request("POST", f"/posts/{posts[0]['id']}/like", reader)
    assert response.status_code == 200 and response.json()["liked"], response.text
    eventually(lambda: sum(cluster.keys_per_node(f"feedline:aff:{{{reader.id}}}").values()) == 1)

    first = api.feed(reader, ranking="ranked", limit=2)
    assert first["next_cursor"]
    ids = [item["id"] for item in first["items"]]
    ids += api.all_feed_ids(reader, limit=2, ranking="ranked", cursor=first["next_cursor"])
    assert sorted(ids) == sorted(p["id"] for p in posts)


def test_feed_pages_hydrate_from_the_post_cache_on_the_cluster(
    api: Feedline, cluster: RedisClusterNodes, deployment: Deployment
) -> None:
    author, reader = api.register("cached"), api.register("cachereader")
    api.follow(reader, author)
    post = api.post(author, "cached post")["id"]
    eventually(lambda: post in api.feed_ids(reader))
    url = deployment.metrics_url(deployment.first, "feed-service")
    hits = metric_value(url, "feedline_feed_hydration_cache_total", {"result": "hit"})
    api.feed(reader)  # served by the first set: the gateway in front of it
    assert metric_value(url, "feedline_feed_hydration_cache_total", {"result": "hit"}) > hits
    assert sum(cluster.keys_per_node("feedline:post:*").values()) >= 1

    assert api.request("POST", f"/posts/{post}/like", reader).status_code == 200
    item = api.feed(reader)["items"][0]
    assert (item["id"], item["like_count"], item["liked_by_me"]) == (post, 1, True)


def test_rate_limits_count_in_the_cluster(api: Feedline, deployment: Deployment) -> None:
    limit = LIMITED_PER_PRINCIPAL
    with httpx.Client(base_url=f"{deployment.limited.gateway_url}/api/v1", timeout=10) as http:
        # A fixed window may roll over mid-burst; a second burst (a fresh principal) cannot.
        for _ in range(2):
            account = api.register("limited")
            responses = [http.get("/users/me", headers=account.headers) for _ in range(limit + 1)]
            if [r.status_code for r in responses] == [200] * limit + [429]:
                break
        assert [r.status_code for r in responses] == [200] * limit + [429]
    assert int(responses[-1].headers["Retry-After"]) >= 1
    assert responses[-1].json()["status"] == 429
    # The limiter fails open when Redis errors: a 429 alone would not prove every check ran.
    metrics = deployment.metrics_url(deployment.limited, "gateway")
    for name in ("principal", "address"):
        fail_open = metric_value(
            metrics, "feedline_gateway_rate_limit_fail_open_total", {"limit": name}
        )
        assert fail_open == 0, name
