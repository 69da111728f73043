from datetime import UTC, datetime, timedelta

import pytest

from feedline_shared.ids import MAX_NODE, IdGenerator, id_timestamp, smallest_id_at


def test_ids_are_unique_and_increasing_within_a_process():
    generator = IdGenerator(node_id=7)
    ids = [generator.next_id() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(0 < i < 2**63 for i in ids)


def test_two_nodes_never_collide_in_the_same_millisecond():
    a, b = IdGenerator(node_id=1), IdGenerator(node_id=2)
    assert not {a.next_id() for _ in range(5000)} & {b.next_id() for _ in range(5000)}


def test_id_carries_its_creation_time():
    before = datetime.now(UTC) - timedelta(milliseconds=5)
    snowflake = IdGenerator(node_id=0).next_id()
    assert before <= id_timestamp(snowflake) <= datetime.now(UTC) + timedelta(milliseconds=5)
    assert smallest_id_at(id_timestamp(snowflake)) <= snowflake


def test_node_id_must_fit_its_bits():
    with pytest.raises(ValueError):
        IdGenerator(node_id=MAX_NODE + 1)
