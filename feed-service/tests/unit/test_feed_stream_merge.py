"""The merge of newest-first sources, with in-memory sources and hydration."""

from collections.abc import Sequence

from feed_service.chronological import read_chronological
from feed_service.sources import Batch
from feedline_shared.schemas import Post, UserSummary


class ListSource:
    def __init__(self, ids: list[int]) -> None:
        self.ids = sorted(ids, reverse=True)
        self.fetches = 0

    async def fetch(self, before: int | None, count: int) -> Batch:
        self.fetches += 1
        older = [i for i in self.ids if before is None or i < before]
        return Batch(older[:count], exhausted=len(older) <= count)


def hydrator(hidden: set[int] = frozenset()):  # type: ignore[assignment]
    calls: list[list[int]] = []

    async def hydrate(ids: Sequence[int]) -> dict[int, Post]:
        calls.append(list(ids))
        return {
            i: Post(
                id=i,
                author=UserSummary(id=1, username="u", display_name="U"),
                caption="c",
                media_url=None,
                created_at="2026-06-01T00:00:00Z",
                like_count=0,
                liked_by_me=False,
            )
            for i in ids
            if i not in hidden
        }

    hydrate.calls = calls  # type: ignore[attr-defined]
    return hydrate


async def test_sources_interleave_newest_first_without_duplicates():
    sources = [ListSource([1, 4, 5, 9, 12]), ListSource([2, 3, 5, 10, 11])]
    page = await read_chronological(
        sources, hydrator(), before=None, limit=20, overfetch=0, max_rounds=3
    )
    assert [p.id for p in page.posts] == [12, 11, 10, 9, 5, 4, 3, 2, 1]
    assert page.next_before is None


async def test_an_id_is_placed_only_when_no_source_can_still_produce_a_newer_one():
    # Source A's first 3 ids reach down to 7; source B's 3 reach 1: B's 2 and 1 must wait.
    sources = [ListSource([10, 9, 8, 7, 6]), ListSource([3, 2, 1])]
    hydrate = hydrator()
    page = await read_chronological(
        sources, hydrate, before=None, limit=5, overfetch=0, max_rounds=5
    )
    assert [p.id for p in page.posts] == [10, 9, 8, 7, 6]
    assert page.next_before == 6


async def test_filtered_items_trigger_another_round_and_pages_stay_full():
    hidden = set(range(20, 40))
    hydrate = hydrator(hidden)
    page = await read_chronological(
        [ListSource(list(range(1, 40)))], hydrate, before=None, limit=5, overfetch=2, max_rounds=5
    )
    assert [p.id for p in page.posts] == [19, 18, 17, 16, 15]
    assert page.next_before == 15


async def test_bounded_rounds_return_a_short_page_with_a_cursor_past_what_was_examined():
    hidden = set(range(1, 1000))
    page = await read_chronological(
        [ListSource(list(range(1, 1000)))],
        hydrator(hidden),
        before=None,
        limit=5,
        overfetch=0,
        max_rounds=2,
    )
    assert page.posts == []
    assert page.next_before is not None and page.next_before < 999


async def test_the_last_full_page_says_it_is_the_end():
    page = await read_chronological(
        [ListSource([1, 2, 3])], hydrator(), before=None, limit=3, overfetch=5, max_rounds=2
    )
    assert [p.id for p in page.posts] == [3, 2, 1]
    assert page.next_before is None


async def test_a_page_that_fills_from_its_first_ids_leaves_the_overfetch_unhydrated():
    hydrate = hydrator()
    page = await read_chronological(
        [ListSource(list(range(1, 100)))], hydrate, before=None, limit=5, overfetch=3, max_rounds=3
    )
    assert [p.id for p in page.posts] == [99, 98, 97, 96, 95]
    assert page.next_before == 95
    assert hydrate.calls == [[99, 98, 97, 96, 95]]  # type: ignore[attr-defined]


async def test_a_filtered_id_among_the_first_brings_in_the_overfetched_rest():
    hydrate = hydrator({97})
    page = await read_chronological(
        [ListSource(list(range(1, 100)))], hydrate, before=None, limit=5, overfetch=3, max_rounds=3
    )
    assert [p.id for p in page.posts] == [99, 98, 96, 95, 94]
    assert page.next_before == 94
    assert hydrate.calls == [[99, 98, 97, 96, 95], [94, 93, 92]]  # type: ignore[attr-defined]


async def test_at_the_end_of_the_stream_the_rest_decides_whether_a_cursor_is_given():
    # The page fills from 5, 4, 3; what follows (2, 1) is all filtered out: that is the end.
    hidden_tail = await read_chronological(
        [ListSource([1, 2, 3, 4, 5])],
        hydrator({1, 2}),
        before=None,
        limit=3,
        overfetch=5,
        max_rounds=2,
    )
    assert [p.id for p in hidden_tail.posts] == [5, 4, 3]
    assert hidden_tail.next_before is None
    visible_tail = await read_chronological(
        [ListSource([1, 2, 3, 4, 5])],
        hydrator({2}),
        before=None,
        limit=3,
        overfetch=5,
        max_rounds=2,
    )
    assert [p.id for p in visible_tail.posts] == [5, 4, 3]
    assert visible_tail.next_before == 3
