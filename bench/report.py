"""bench/results/: latest.json, latest.md and latency.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write(results: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "latest.json", out_dir / "latest.md"]
    paths[0].write_text(json.dumps(results, indent=2, default=str) + "\n")
    paths[1].write_text(markdown(results))
    png = plot(results, out_dir / "latency.png")
    if png is not None:
        paths.append(png)
    return paths


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown(r: dict[str, Any]) -> str:
    lines = [f"# Feedline benchmark — {r['started_at']} ({r['mode']})", ""]
    lines += [
        f"Graph: {r['graph']['users']:,} users, {r['graph']['follows']:,} follows "
        f"(top account {r['graph']['top_followers']:,} followers), "
        f"{r['graph']['posts']:,} posts, {r['graph']['likes']:,} likes; "
        f"load generator {r['load']['tool']}, -c{r['load']['concurrency']}, "
        f"{r['load']['duration_s']} s × {r['load']['repeats']}.",
        "",
    ]
    lines += ["## HTTP (median of repeats)", ""]
    lines += [_row(["run", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "share of peak"])]
    lines += [_row(["---"] * 7)]
    for run in r["http"]["table"]:
        lines += [
            _row(
                [
                    run["label"],
                    run["rps"],
                    run["p50_ms"],
                    run["p95_ms"],
                    run["p99_ms"],
                    run["errors"],
                    run.get("share_of_peak", ""),
                ]
            )
        ]
    lines += [
        "",
        "## Targets",
        "",
        _row(["figure", "measured", "target", "met"]),
        _row(["---"] * 4),
    ]
    for t in r["targets"]:
        lines += [_row([t["figure"], t["measured"], t["target"], "yes" if t["met"] else "NO"])]
    for phase, failure in r.get("failures", {}).items():
        lines += ["", f"**{phase} not measured:** {failure}"]
    lines += _cpu(r)
    lines += _feed_tail(r)
    lines += _machine(r)
    if "fanout" in r:
        lines += _fanout(r)
    if "memory" in r:
        lines += _memory(r)
    return "\n".join(lines) + "\n"


def _cpu(r: dict[str, Any]) -> list[str]:
    measured = r.get("http", {}).get("cpu_ms_per_request") or {}
    if not any(measured.values()):
        return []
    lines = ["", "## CPU per request (ms, from /proc, median of repeats)", ""]
    lines += [_row(["run", "process", "ms", "share"])]
    lines += [_row(["---"] * 4)]
    for label, per_process in measured.items():
        total = sum(per_process.values())
        for name, ms in sorted(per_process.items(), key=lambda item: -item[1]):
            share = f"{ms / total:.0%}" if total else ""
            lines += [_row([label, name, ms, share])]
        lines += [_row([label, "**all**", round(total, 3), ""])]
    return lines


def _feed_tail(r: dict[str, Any]) -> list[str]:
    tail = r.get("http", {}).get("feed_tail") or {}
    if not tail:
        return []

    def share(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}"

    over = tail["share_over"]
    waited = tail["cpu_wait_ms_per_read"]
    return [
        "",
        "## Where the feed @70% run's tail is",
        "",
        "- reads over 25 ms (over 10 ms) by each process's own latency histogram: "
        + "; ".join(
            f"{name} {share(bounds.get('25ms'))} ({share(bounds.get('10ms'))})"
            for name, bounds in over.items()
        )
        + " — the gateway's time includes feed-service's",
        "- waiting for a CPU per read (run delay, /proc/<pid>/task/*/schedstat): "
        + ", ".join(f"{name} {ms} ms" for name, ms in waited.items()),
    ]


def _machine(r: dict[str, Any]) -> list[str]:
    http = r.get("http", {})
    stolen = {label: shares for label, shares in (http.get("steal_share") or {}).items() if shares}
    repeats = (http.get("paced_repeats") or {}).get("feed @70%") or []
    if not stolen and len(repeats) < 2:
        return []

    def share(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}"

    lines = ["", "## The machine during the runs", ""]
    if len(repeats) > 1:
        lines += [
            "- feed @70% p99 of each run at the pace found (the table holds the median run): "
            + " / ".join(f"{run['p99_ms']} ms at {run['rps']:,.0f} req/s" for run in repeats)
        ]
    if stolen:
        lines += [
            "- CPU time the hypervisor gave to other guests (steal, /proc/stat), per run: "
            + "; ".join(
                f"{label} {' / '.join(share(s) for s in shares)}"
                for label, shares in stolen.items()
            )
        ]
    return lines


def _fanout(r: dict[str, Any]) -> list[str]:
    lines = ["", "## Fan-out", ""]
    f = r["fanout"]
    d = f["delivery"]
    runs = ", ".join(f"{ops:,.0f}" for ops in f.get("zadd_ceiling_runs", [f["zadd_ceiling_ops"]]))
    r2_rounds = " / ".join(str(ratio) for ratio in f.get("r2_rounds", [f["r2"]]))
    lines += [
        f"- ZADD ceiling (redis-benchmark, -P 32, 100k keys), before and after each round of "
        f"deliveries: {runs}/s (median {f['zadd_ceiling_ops']:,.0f}/s); "
        f"redis-py pipeline of 1000: {f['zadd_redis_py_ops']:,.0f}/s",
        f"- R2 per round (worker median ÷ the faster ceiling run around it): {r2_rounds}",
        f"- worker timeline writes/s (fan-out duration metric): "
        f"{f['delivery']['worker_writes_per_s_median']:,}; end to end: "
        f"{f['delivery']['end_to_end_writes_per_s_median']:,}",
        f"- delivery of a {f['delivery']['followers']:,}-follower post over "
        f"{d['posts']} posts: client p50 {d['delivery_client']['p50_ms']} ms, "
        f"p99 {f['delivery']['delivery_client']['p99_ms']} ms; worker metric p50 "
        f"{f['delivery']['delivery_worker_metric']['p50_ms']} ms, p99 "
        f"{f['delivery']['delivery_worker_metric']['p99_ms']} ms",
        f"- timeline build (miss path, straight at feed-service): "
        f"{f['build']['per_s']:,.0f}/s, p50 {f['build']['latency']['p50_ms']} ms, "
        f"p99 {f['build']['latency']['p99_ms']} ms",
    ]
    return lines


def _memory(r: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Memory (TimelineStore at the cap, one private redis-server per setting, writes taking "
        "turns)",
        "",
        _row(
            [
                "list-max-listpack-size",
                "encoding",
                "list B/entry",
                "with meta B/entry",
                "used_memory B/entry",
                "fan-out writes/s into full timelines",
                "Redis µs per fan-out write",
                "the same, reading heads (no mark)",
                "encoding after those writes",
            ]
        ),
        _row(["---"] * 9),
    ]
    for m in r["memory"]["synthetic"]:
        lines += [
            _row(
                [
                    f"{m['list_max_listpack_size']}"
                    + (" (Feedline's setting)" if m.get("deployed") else "")
                    + (" (Redis's default)" if m.get("redis_default") else ""),
                    m["encoding"],
                    m["list_bytes_per_entry"],
                    m["with_meta_bytes_per_entry"],
                    m["used_memory_bytes_per_entry"],
                    f"{m['fan_out_writes_per_s']:,}" if "fan_out_writes_per_s" in m else "",
                    m.get("fan_out_redis_us_per_write", ""),
                    m.get("fan_out_redis_us_per_write_reading_heads", ""),
                    m.get("encoding_after_writes", ""),
                ]
            )
        ]
    real = r["memory"]["bench_timelines"]
    lines += [
        "",
        f"Timelines built by feed-service in this run: {real['timelines_sampled']} "
        f"sampled, mean {real['mean_entries']} entries, {real['list_bytes_per_entry']} B/entry "
        f"(at cap: {real['at_cap']}).",
        "",
    ]
    return lines


def plot(r: dict[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    runs = r.get("http", {}).get("table", [])
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    labels = [run["label"] for run in runs]
    for offset, key in enumerate(("p50_ms", "p95_ms", "p99_ms")):
        xs = [i + (offset - 1) * 0.27 for i in range(len(runs))]
        left.bar(xs, [run[key] for run in runs], width=0.27, label=key.replace("_ms", ""))
    left.set_xticks(range(len(runs)), labels, rotation=25, ha="right", fontsize=8)
    left.set_ylabel("latency (ms)")
    left.set_yscale("log")
    left.set_title(
        "HTTP latency: Feedline via the gateway, ceiling = two-hop echo (median of repeats)",
        fontsize=10,
    )
    left.legend()
    fan = r.get("fanout", {}).get("delivery", {"deliveries_s": [], "followers": 0})
    deliveries = sorted(d * 1000 for d in fan["deliveries_s"])
    if deliveries:
        shares = [(i + 1) / len(deliveries) for i in range(len(deliveries))]
        right.step(deliveries, shares, where="post")
    right.axvline(1000, color="red", linestyle="--", label="1 s target")
    right.set_xlabel("post → last sampled follower timeline (ms)")
    right.set_ylabel("share of posts")
    right.set_title(f"Fan-out to {fan['followers']:,} followers")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
