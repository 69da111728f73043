"""``GET /feed`` as a direct route answers exactly as FastAPI serving it does."""

from feed_standins import ids_of

from feed_service.routes import feed as feed_routes
from feedline_shared.cursors import encode_cursor
from feedline_shared.direct import direct_routes

VIEWER = 1

CASES = [
    ("", {}),
    ("?limit=5", {}),
    ("?limit=5&ranking=chronological", {}),
    ("?limit=0", {}),
    ("?limit=500&ranking=popular", {}),
    ("?cursor=not-a-cursor", {}),
    ("?cursor=" + "c" * 600, {}),
    ("", {"X-User-ID": None}),
    ("", {"X-User-ID": "seven"}),
    ("", {"X-Internal-Token": "forged"}),
]


async def _answers(make_client, *, direct: bool) -> list[tuple[int, bytes]]:
    client = await make_client(direct=direct)
    seen = []
    for query, header_changes in CASES:
        headers = dict(client.headers)
        for name, value in header_changes.items():
            headers.pop(name.lower(), None)
            if value is not None:
                headers[name] = value
        response = await client.get("/feed" + query, headers=headers)
        seen.append((response.status_code, response.content))
    cursor = None
    for _ in range(4):
        response = await client.get("/feed", params={"limit": 7, "cursor": cursor})
        seen.append((response.status_code, response.content))
        cursor = response.json()["next_cursor"]
    ranked = await client.get("/feed", params={"ranking": "ranked", "limit": 5})
    seen.append((ranked.status_code, bytes(str(ids_of(ranked.json())), "ascii")))
    return seen


async def test_the_direct_feed_answers_every_case_as_fastapi_does(
    make_client, graph, store
) -> None:
    graph.follow(VIEWER, 2, 3)
    posts = graph.add_posts([2, 3, VIEWER] * 10)
    await store.rebuild(VIEWER, posts, [2, 3])
    reference = await _answers(make_client, direct=False)
    assert await _answers(make_client, direct=True) == reference
    assert {status for status, _ in reference} == {200, 400, 401, 422}


async def test_a_cursor_for_the_other_ranking_is_the_same_400(make_client, graph, store) -> None:
    graph.follow(VIEWER, 2)
    await store.rebuild(VIEWER, graph.add_posts([2] * 3), [2])
    cursor = encode_cursor({"r": "x", "b": 5})
    answers = [
        await (await make_client(direct=direct)).get("/feed", params={"cursor": cursor})
        for direct in (False, True)
    ]
    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].content == answers[1].content


def test_the_feed_route_is_direct() -> None:
    assert [entry.plan is not None for entry in direct_routes([feed_routes.router])] == [True]
