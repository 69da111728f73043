"""The benchmark's own logic, without servers: graph shape, id scheme, parsing, guards."""

from __future__ import annotations

import orjson
import pytest

from bench import loadgen
from bench.clients import parse_metrics
from bench.echo import payload
from bench.graph import BENCH_NODE_ID, GraphSpec, build_graph, follower_target
from bench.infra import reset_schemas
from bench.stats import percentile
from feedline_shared.ids import NODE_BITS, SEQUENCE_BITS, id_timestamp

SMALL = GraphSpec(users=300, posts=3_000, likes=2_000, seed=3)


@pytest.fixture(scope="module")
def graph():
    return build_graph(SMALL)


def test_most_followed_account_is_followed_by_everyone_else(graph) -> None:
    assert graph.followers_count[0] == SMALL.users - 1
    assert sorted(graph.followers_count, reverse=True)[:3] == graph.followers_count[:3]


def test_follower_counts_fall_off_as_a_power_law() -> None:
    spec = GraphSpec()
    assert [follower_target(r, spec) for r in (1, 2, 10, 10_000)] == [9_999, 5_000, 1_000, 1]


def test_follows_are_unique_never_self_and_counted(graph) -> None:
    pairs = [(a, b) for _, a, b in graph.follows]
    assert len(pairs) == len(set(pairs))
    assert all(a != b for a, b in pairs)
    assert sum(graph.followers_count) == sum(graph.following_count) == len(pairs)
    assert len({follow_id for follow_id, _, _ in graph.follows}) == len(graph.follows)


def test_post_ids_use_the_shared_layout_and_order_like_their_times(graph) -> None:
    ids = [post_id for post_id, _, _ in graph.posts]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for post_id, _, created in graph.posts[:50]:
        assert (post_id >> SEQUENCE_BITS) & ((1 << NODE_BITS) - 1) == BENCH_NODE_ID
        assert abs((id_timestamp(post_id) - created).total_seconds()) < 0.001


def test_likes_are_distinct_and_match_like_counts(graph) -> None:
    assert len(graph.likes) == len(set(graph.likes)) == SMALL.likes
    assert sum(graph.like_count) == SMALL.likes


def test_echo_payload_is_valid_json_of_the_asked_size() -> None:
    body = payload(7_179)
    assert len(body) == 7_179
    assert orjson.loads(body)["items"] == []


def test_wrk_summary_line_becomes_a_run_result() -> None:
    line = (
        'BENCHJSON {"requests": 1000, "duration_us": 2000000, "p50_us": 1500, "p90_us": 2000, '
        '"p95_us": 2500, "p99_us": 4000, "max_us": 9000, "mean_us": 1600.0, "non_2xx": 2, '
        '"status_4xx_5xx": 2, "connect_errors": 0, "read_errors": 1, "write_errors": 0, '
        '"timeouts": 0, "feed": 800, "posts": 150, "create": 50}'
    )
    result = loadgen._parse("mix", 32, 0.0, "wrk", "Running 2s test\n" + line + "\n")
    assert result.rps == 500.0
    assert (result.p50_ms, result.p99_ms, result.errors) == (1.5, 4.0, 3)
    assert result.mix == {"feed": 800, "posts": 150, "create": 50}


def test_metrics_parser_keeps_labels_in_the_name() -> None:
    text = (
        "# HELP x y\n"
        'feedline_fanout_duration_seconds_sum{op="add"} 1.25\n'
        "feedline_fanout_delivery_lag_seconds_count 3.0\n"
    )
    assert parse_metrics(text) == {
        'feedline_fanout_duration_seconds_sum{op="add"}': 1.25,
        "feedline_fanout_delivery_lag_seconds_count": 3.0,
    }


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([], 0.5)) == (
        50,
        99,
        0.0,
    )


def test_schema_reset_refuses_any_database_but_the_bench_one() -> None:
    with pytest.raises(SystemExit):
        reset_schemas("feedline")


def minimal_results(**http: object) -> dict[str, object]:
    """The smallest results the report renders, with ``http`` figures added to its HTTP part."""
    return {
        "started_at": "t",
        "mode": "quick",
        "graph": {"users": 1, "follows": 0, "top_followers": 0, "posts": 0, "likes": 0},
        "load": {"tool": "wrk", "concurrency": 1, "duration_s": 1, "repeats": 1},
        "http": {"table": [], **http},
        "targets": [],
    }


def test_cpu_meter_charges_a_busy_process_per_request() -> None:
    import os

    from bench.cpu import ProcessMeter, cpu_seconds
    from bench.report import markdown

    meter = ProcessMeter({"this": os.getpid(), "gone": None})
    meter.start()
    deadline = (cpu_seconds(os.getpid()) or 0.0) + 0.05
    while (cpu_seconds(os.getpid()) or 0.0) < deadline:
        sum(range(10_000))
    measured = meter.per_request_ms(10)
    assert set(measured) == {"this"} and measured["this"] >= 4.0  # ≥ 50 ms over 10 requests
    assert meter.per_request_ms(0) == {}

    text = markdown(
        minimal_results(cpu_ms_per_request={"feed peak": {"gateway": 1.0, "feed-service": 3.0}})
    )
    assert "| feed peak | feed-service | 3.0 | 75% |" in text
    assert "| feed peak | **all** | 4.0 |  |" in text


def test_pacing_inverts_the_closed_loop_rate() -> None:
    # 32 connections, 20 ms think time, 12 ms latency: one request per 32 ms each, 1,000/s.
    assert loadgen.observed_latency_ms(32, 20.0, 1000.0) == pytest.approx(12.0)
    assert loadgen.think_time_ms(32, 1000.0, 12.0) == pytest.approx(20.0)
    # The probe's latency gives the think time for the wanted rate.
    latency = loadgen.observed_latency_ms(32, 20.0, 1000.0)
    assert loadgen.think_time_ms(32, 700.0, latency) == pytest.approx(32_000 / 700 - 12.0)
    assert loadgen.think_time_ms(32, 10_000.0, 50.0) == 1.0
    assert loadgen.observed_latency_ms(32, 20.0, 0.0) == 0.0


def test_run_delay_is_read_per_process_and_a_gone_one_reads_none() -> None:
    import os
    import subprocess
    import sys

    from bench.cpu import ProcessMeter, run_delay_seconds

    waited = run_delay_seconds(os.getpid())
    assert waited is not None and waited >= 0.0
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert run_delay_seconds(child.pid) is None
    meter = ProcessMeter({"this": os.getpid()}, read=run_delay_seconds)
    meter.start()
    assert meter.per_request_ms(1)["this"] >= 0.0


def test_slow_shares_come_from_the_latency_histogram_between_two_scrapes() -> None:
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from bench.clients import parse_metrics, share_slower_than
    from bench.report import markdown

    registry = CollectorRegistry()
    latency = Histogram(
        "feedline_http_request_duration_seconds",
        "latency",
        ["service", "method", "route"],
        buckets=(0.01, 0.025, 0.05),
        registry=registry,
    )
    feed = latency.labels("gateway", "GET", "/feed")
    other = latency.labels("gateway", "GET", "/posts/{post_id}")
    for _ in range(5):
        feed.observe(0.2)  # before the run: not counted
    before = parse_metrics(generate_latest(registry).decode())
    for seconds in [0.002] * 7 + [0.015, 0.02, 0.03]:
        feed.observe(seconds)
    other.observe(0.3)
    after = parse_metrics(generate_latest(registry).decode())
    assert share_slower_than(before, after, "/feed", 0.025) == pytest.approx(0.1)
    assert share_slower_than(before, after, "/feed", 0.01) == pytest.approx(0.3)
    assert share_slower_than(after, after, "/feed", 0.01) is None
    with pytest.raises(KeyError):
        share_slower_than(before, after, "/feed", 0.02)

    text = markdown(
        minimal_results(
            feed_tail={
                "share_over": {"gateway": {"10ms": 0.3, "25ms": 0.1}, "feed-service": {}},
                "cpu_wait_ms_per_read": {"gateway": 0.2},
            }
        )
    )
    assert "gateway 10.0% (30.0%); feed-service — (—)" in text
    assert "gateway 0.2 ms" in text


def test_steal_share_is_the_stolen_part_of_the_machine_ticks_between_two_reads(tmp_path) -> None:
    from bench.cpu import StealMeter, machine_ticks
    from bench.report import markdown

    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 800 0 0 0 50 0 0\ncpu0 1 2 3\n")
    assert machine_ticks(stat) == (50, 1000)
    meter = StealMeter(read=lambda: machine_ticks(stat))
    meter.start()
    # 200 more ticks, 30 of them stolen.
    stat.write_text("cpu  200 0 60 860 0 0 0 80 0 0\n")
    assert meter.share() == pytest.approx(0.15)
    assert StealMeter(read=lambda: None).share() is None
    assert machine_ticks(tmp_path / "missing") is None
    real = machine_ticks()
    assert real is not None and 0 <= real[0] <= real[1]

    text = markdown(
        minimal_results(
            steal_share={"feed peak": [0.012, None], "mix peak": []},
            paced_repeats={
                "feed @70%": [{"p99_ms": 21.5, "rps": 700.0}, {"p99_ms": 30.1, "rps": 712.4}]
            },
        )
    )
    assert "21.5 ms at 700 req/s / 30.1 ms at 712 req/s" in text
    assert "feed peak 1.2% / —" in text and "mix peak" not in text


def test_pace_search_takes_the_secant_once_two_runs_missed() -> None:
    # One miss: the think time its latency implies (32 connections, 1,000/s at 20 ms → 12 ms).
    assert loadgen.next_pace_ms(32, 700.0, [(20.0, 1000.0)]) == pytest.approx(32_000 / 700 - 12.0)
    # Two misses on a line 10 req/s per ms of think time: straight to the target's point.
    tried = [(30.0, 800.0), (35.0, 750.0)]
    assert loadgen.next_pace_ms(32, 700.0, tried) == pytest.approx(40.0)
    # A slope the wrong way (noise) or no change in pace falls back to the latency estimate.
    noisy = [(30.0, 750.0), (35.0, 800.0)]
    expected = loadgen.think_time_ms(32, 700.0, loadgen.observed_latency_ms(32, 35.0, 800.0))
    assert loadgen.next_pace_ms(32, 700.0, noisy) == pytest.approx(expected)
    assert loadgen.next_pace_ms(32, 700.0, [(35.0, 760.0), (35.0, 750.0)]) == pytest.approx(
        loadgen.think_time_ms(32, 700.0, loadgen.observed_latency_ms(32, 35.0, 750.0))
    )
    # Never below the 1 ms floor.
    assert loadgen.next_pace_ms(32, 5_000.0, [(5.0, 900.0), (4.0, 950.0)]) == 1.0
