"""The results table: printed, and written to chaos/results/latest.{json,md}."""

from __future__ import annotations

import json
from pathlib import Path

from chaos.faults import FaultWindow
from chaos.verify import Check

RESULTS = Path(__file__).resolve().parent / "results"


def markdown(
    checks: list[Check], windows: list[FaultWindow], figures: dict[str, object], title: str
) -> str:
    lines = [f"# {title}", "", "| check | value | result |", "|---|---|---|"]
    lines += [f"| {c.name} | {c.value} | {'ok' if c.ok else 'FAIL'} |" for c in checks]
    lines += ["", "| fault | injected at (s) | recovery (s) | note |", "|---|---|---|---|"]
    for w in windows:
        recovery = f"{w.recovery_seconds:.1f}" if w.recovery_seconds is not None else "-"
        slowest = ""
        if w.ready_after:
            name, seconds = max(w.ready_after.items(), key=lambda item: item[1])
            slowest = f"last ready: {name} ({seconds:.1f} s after restart)"
        lines.append(f"| {w.name} | {w.started:.1f} | {recovery} | {w.error or slowest} |")
    lines += ["", "| figure | value |", "|---|---|"]
    for key in (
        "duration_seconds",
        "requests",
        "faults_injected",
        "lost_items",
        "5xx_outside_windows",
        "5xx_inside_windows",
        "drain_seconds",
        "accounts",
        "posts_acknowledged",
        "deletes_acknowledged",
        "follow_pairs",
        "feed_readers_checked",
        "status_counts",
    ):
        if key in figures:
            lines.append(f"| {key} | {figures[key]} |")
    return "\n".join(lines) + "\n"


def write(
    checks: list[Check],
    windows: list[FaultWindow],
    figures: dict[str, object],
    title: str,
    stem: str = "latest",
) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = markdown(checks, windows, figures, title)
    (RESULTS / f"{stem}.md").write_text(text)
    payload = {
        "title": title,
        "passed": all(c.ok for c in checks),
        "checks": [c.__dict__ for c in checks],
        "faults": [{**w.__dict__, "recovery_seconds": w.recovery_seconds} for w in windows],
        "figures": figures,
    }
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return text
