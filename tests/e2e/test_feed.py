"""The Feed section of the contract and the follow rules, end to end (real fan-out included)."""

from __future__ import annotations

import threading
import time

from feedline_client import Feedline, eventually
from processes import System
from test_auth_and_users import assert_problem


def test_a_new_post_reaches_a_followers_feed(api: Feedline) -> None:
    author, reader = api.register("auth"), api.register("read")
    api.follow(reader, author)
    api.feed(reader)  # builds the reader's timeline, so delivery is by fan-out
    started = time.monotonic()
    post = api.post(author, "fresh")
    eventually(lambda: post["id"] in api.feed_ids(reader), timeout=5)
    assert time.monotonic() - started < 5


def test_own_posts_are_in_the_own_feed(api: Feedline) -> None:
    alice = api.register("own")
    post = api.post(alice, "me")
    assert api.feed_ids(alice) == [post["id"]]


def test_follow_then_immediate_feed_includes_their_posts(api: Feedline) -> None:
    author, reader = api.register("old"), api.register("newfan")
    posts = [api.post(author, f"before {i}")["id"] for i in range(3)]
    assert api.feed_ids(reader) == []
    api.follow(reader, author)
    assert api.feed_ids(reader) == list(reversed(posts))


def test_unfollow_then_immediate_feed_excludes_their_posts(api: Feedline) -> None:
    author, reader = api.register("gone"), api.register("leaver")
    api.follow(reader, author)
    post = api.post(author, "visible")
    eventually(lambda: post["id"] in api.feed_ids(reader), timeout=5)
    api.unfollow(reader, author)
    assert post["id"] not in api.feed_ids(reader)


def test_deleted_post_disappears_from_feeds(api: Feedline) -> None:
    author, reader = api.register("del"), api.register("delread")
    api.follow(reader, author)
    keep, drop = api.post(author, "keep")["id"], api.post(author, "drop")["id"]
    eventually(lambda: drop in api.feed_ids(reader), timeout=5)
    assert api.request("DELETE", f"/posts/{drop}", author).status_code == 204
    ids = api.feed_ids(reader)
    assert drop not in ids and keep in ids


def test_deleted_post_is_hidden_even_when_the_removal_job_is_not_running(
    api: Feedline, system: System
) -> None:
    author, reader = api.register("tomb"), api.register("tombread")
    api.follow(reader, author)
    post = api.post(author, "to be deleted")["id"]
    eventually(lambda: post in api.feed_ids(reader), timeout=5)
    with system.stopped("fanout-worker"):
        # Likes too show at once: post-service invalidates the cached copies itself.
        assert api.request("POST", f"/posts/{post}/like", reader).status_code == 200
        item = api.feed(reader)["items"][0]
        assert (item["id"], item["like_count"], item["liked_by_me"]) == (post, 1, True)
        assert api.request("DELETE", f"/posts/{post}", author).status_code == 204
        assert post not in api.feed_ids(reader)


def test_likes_show_in_the_next_feed_read(api: Feedline) -> None:
    author, reader, fan = api.register("liked"), api.register("likeread"), api.register("fan")
    api.follow(reader, author)
    post = api.post(author, "like this")["id"]
    eventually(lambda: post in api.feed_ids(reader), timeout=5)

    def shown() -> tuple[int, bool]:
        item = next(i for i in api.feed(reader)["items"] if i["id"] == post)
        return item["like_count"], item["liked_by_me"]

    assert shown() == (0, False)
    assert api.request("POST", f"/posts/{post}/like", reader).status_code == 200
    assert shown() == (1, True)
    assert api.request("POST", f"/posts/{post}/like", fan).status_code == 200
    assert shown() == (2, True)
    assert api.request("DELETE", f"/posts/{post}/like", reader).status_code == 200
    assert shown() == (1, False)


def test_feed_pages_are_stable_while_new_posts_arrive(api: Feedline) -> None:
    author, reader = api.register("flow"), api.register("flowread")
    api.follow(reader, author)
    ids = [api.post(author, f"p{i}")["id"] for i in range(9)]
    eventually(lambda: ids[-1] in api.feed_ids(reader), timeout=5)
    stop = threading.Event()

    def keep_posting() -> None:
        while not stop.is_set():
            api.post(author, "noise")

    poster = threading.Thread(target=keep_posting)
    poster.start()
    try:
        seen: list[str] = []
        cursor = None
        while True:
            page = api.feed(reader, limit=3, **({"cursor": cursor} if cursor else {}))
            seen.extend(item["id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    finally:
        stop.set()
        poster.join()
    assert len(seen) == len(set(seen)), "a post repeated across pages"
    assert seen == sorted(seen, key=int, reverse=True), "pages out of order"
    assert set(ids) <= set(seen), "a post was skipped"


def test_celebrity_posts_are_merged_in_order(api: Feedline) -> None:
    # The e2e system treats accounts with more than 3 followers as celebrities (no fan-out).
    celebrity, regular = api.register("celeb"), api.register("regular")
    fans = [api.register("cfan") for _ in range(4)]
    reader = fans[0]
    for fan in fans:
        api.follow(fan, celebrity)
    api.follow(reader, regular)
    api.feed(reader)
    a = api.post(regular, "a")["id"]
    b = api.post(celebrity, "b")["id"]
    c = api.post(regular, "c")["id"]
    eventually(lambda: c in api.feed_ids(reader), timeout=5)
    assert api.feed_ids(reader)[:3] == [c, b, a]


def test_paging_past_the_timeline_cap_reaches_every_post(api: Feedline) -> None:
    # The e2e timeline cap is 50; 120 posts from two followed accounts must all be reachable.
    first, second, reader = api.register("capa"), api.register("capb"), api.register("capr")
    api.follow(reader, first)
    api.follow(reader, second)
    api.feed(reader)
    ids = [api.post(first if i % 2 else second, f"c{i}")["id"] for i in range(120)]
    eventually(lambda: ids[-1] in api.feed_ids(reader), timeout=10)
    assert api.all_feed_ids(reader, limit=17) == list(reversed(ids))


def test_invalid_feed_cursor_and_ranking_are_client_errors(api: Feedline) -> None:
    alice = api.register("badfeed")
    assert_problem(api.request("GET", "/feed", alice, params={"cursor": "not-a-cursor"}), 400)
    assert_problem(api.request("GET", "/feed", alice, params={"ranking": "random"}), 422)
    assert_problem(api.request("GET", "/feed", alice, params={"limit": 101}), 422)


def test_ranked_feed_holds_the_same_posts_and_pages_stably(api: Feedline) -> None:
    author, other, reader = api.register("rank"), api.register("rank2"), api.register("rankr")
    api.follow(reader, author)
    api.follow(reader, other)
    ids = [api.post(author if i % 2 else other, f"r{i}")["id"] for i in range(7)]
    eventually(lambda: ids[-1] in api.feed_ids(reader), timeout=5)
    liked = ids[0]
    api.request("POST", f"/posts/{liked}/like", reader)
    first = api.feed(reader, ranking="ranked", limit=3)
    seen = [item["id"] for item in first["items"]]
    api.request("POST", f"/posts/{ids[3]}/like", reader)  # engagement changes between pages
    cursor = first["next_cursor"]
    while cursor:
        page = api.feed(reader, ranking="ranked", limit=3, cursor=cursor)
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
    assert sorted(seen, key=int) == sorted(ids, key=int)
    assert len(seen) == len(set(seen))


def test_feed_is_served_while_redis_is_down(
    api: Feedline, redis_server, redis_retry_after_seconds: float
) -> None:
    author, reader = api.register("nored"), api.register("noredr")
    api.follow(reader, author)
    post = api.post(author, "survives")["id"]
    eventually(lambda: post in api.feed_ids(reader), timeout=5)
    redis_server.stop()
    try:
        response = api.request("GET", "/feed", reader)
        assert response.status_code == 200, response.text
        assert post in [item["id"] for item in response.json()["items"]]
    finally:
        redis_server.start()
    eventually(lambda: post in api.feed_ids(reader), timeout=10)
    # Until then a process that saw Redis fail neither reads nor fills its caches (author
    # summaries among them): later tests count on the caches they warm.
    time.sleep(redis_retry_after_seconds + 0.2)


def test_returning_user_gets_a_full_first_page(api: Feedline, redis_server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    reader = api.register("back")

    def followed_author(_: int) -> str:
        author = api.register("many")
        api.follow(reader, author)
        return api.post(author, "one each")["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        posts = list(pool.map(followed_author, range(200)))
    # The reader's timeline lapses (as after TIMELINE_TTL_DAYS without reads): drop every key.
    import redis

    client = redis.Redis(port=redis_server.port)
    client.flushall()
    client.close()
    page = api.feed(reader, limit=20)
    assert len(page["items"]) == 20 and page["next_cursor"]
    assert [item["id"] for item in page["items"]] == sorted(posts, key=int, reverse=True)[:20]
