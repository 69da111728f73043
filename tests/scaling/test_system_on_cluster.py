"""The five processes on the Redis Cluster, walked through the gateway's public API."""

from __future__ import annotations

import httpx
from feedline_client import Feedline, eventually
from redis_cluster_nodes import RedisClusterNodes
from scaling_deployment import LIMITED_PER_PRINCIPAL, Deployment


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
    assert sum(cluster.keys_per_node("feedline:tlm:*").values()) >= 1


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


def test_rate_limits_count_in_the_cluster(api: Feedline, deployment: Deployment) -> None:
    account = api.register("limited")
    with httpx.Client(base_url=f"{deployment.limited.gateway_url}/api/v1", timeout=10) as http:
        statuses = [
            http.get("/users/me", headers=account.headers).status_code
            for _ in range(LIMITED_PER_PRINCIPAL + 1)
        ]
        assert statuses == [200] * LIMITED_PER_PRINCIPAL + [429]
        refused = http.get("/users/me", headers=account.headers)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    metrics = httpx.get(deployment.metrics_url(deployment.limited, "gateway")).text
    assert "feedline_gateway_rate_limit_fail_open_total" not in metrics or all(
        line.endswith(" 0.0")
        for line in metrics.splitlines()
        if line.startswith("feedline_gateway_rate_limit_fail_open_total{")
    )
