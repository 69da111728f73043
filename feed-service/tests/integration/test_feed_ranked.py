"""The ranked feed: the documented score, snapshots that keep pages stable, and the rest."""

from datetime import UTC, datetime, timedelta

from feed_standins import ids_of, read_all, read_page

VIEWER = 1


async def test_ranked_order_follows_the_documented_score(client, graph, redis):
    graph.follow(VIEWER, 2, 3)
    # The viewer liked 3 posts of user 2; an affinity for the viewer's own id must be ignored.
    await redis.hset("feedline:aff:{1}", mapping={"2": 3, "1": 50})
    now = datetime.now(UTC)

    def post(author: int, hours: float, likes: int) -> int:
        return graph.add_post(author, created_at=now - timedelta(hours=hours), likes=likes)

    # score = (likes + 1) * (affinity + 1) / (age_hours + 2) ** 1.5, oldest created first
    e = post(2, 10, 1)  # 2 * 4 / 12^1.5 = 0.192
    d = post(VIEWER, 3, 2)  # 3 * 1 / 5^1.5 = 0.268 (own post: affinity 0)
    a = post(3, 2, 10)  # 11 * 1 / 4^1.5 = 1.375
    b = post(2, 1, 0)  # 1 * 4 / 3^1.5 = 0.770
    c = post(3, 0, 0)  # 1 * 1 / 2^1.5 = 0.354

    page = await read_page(client, ranking="ranked")

    assert ids_of(page) == [a, b, c, d, e]
    assert page["next_cursor"] is None
    chronological = await read_page(client)
    assert ids_of(chronological) == [c, b, a, d, e]


async def test_ranked_pages_stay_stable_while_likes_change(client, graph):
    graph.follow(VIEWER, 2, 3)
    posts = graph.add_posts([2, 3] * 15, hours_ago=0)
    for rank, post_id in enumerate(posts):
        graph.posts[post_id].like_count = (rank * 7) % 30  # distinct counts dominate the score
    expected = sorted(posts, key=lambda p: graph.posts[p].like_count, reverse=True)

    first = await read_page(client, limit=10, ranking="ranked")
    for post_id in posts:  # the engagement turns around between pages
        graph.posts[post_id].like_count = 100 - graph.posts[post_id].like_count
    second = await read_page(client, limit=10, ranking="ranked", cursor=first["next_cursor"])
    third = await read_page(client, limit=10, ranking="ranked", cursor=second["next_cursor"])

    assert ids_of(first) + ids_of(second) + ids_of(third) == expected
    assert third["next_cursor"] is None
    # the order is frozen, the like counts shown are fresh
    assert second["items"][0]["like_count"] == graph.posts[expected[10]].like_count


async def test_ranked_feed_continues_chronologically_after_the_window(make_client, graph):
    client = await make_client(rank_window=10)
    graph.follow(VIEWER, 2)
    posts = graph.add_posts([2] * 25, hours_ago=0)
    for i, post_id in enumerate(posts):
        graph.posts[post_id].like_count = i % 5
    window = sorted(posts, reverse=True)[:10]

    ids, _ = await read_all(client, limit=4, ranking="ranked")

    assert sorted(ids[:10], reverse=True) == window  # the window, in ranked order
    assert ids[10:] == sorted(posts, reverse=True)[10:]  # then the rest, newest first
    assert len(ids) == len(set(ids)) == 25


async def test_expired_ranked_snapshot_asks_to_restart(client, graph, redis):
    graph.follow(VIEWER, 2)
    graph.add_posts([2] * 30, hours_ago=0)
    first = await read_page(client, limit=10, ranking="ranked")
    for key in await redis.keys("feedline:rank:*"):
        await redis.delete(key)

    response = await client.get(
        "/feed", params={"ranking": "ranked", "cursor": first["next_cursor"]}
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "restart from the first page" in response.json()["detail"]
