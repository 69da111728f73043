"""Reading one series out of a process's Prometheus /metrics page."""

from __future__ import annotations

import httpx


def metric_value(url: str, name: str, labels: dict[str, str] | None = None) -> float:
    """The sample ``name{labels}`` at ``url``; 0 when the series has no sample yet."""
    wanted = ",".join(f'{key}="{value}"' for key, value in (labels or {}).items())
    series = f"{name}{{{wanted}}}" if wanted else name
    for line in httpx.get(url, timeout=5).text.splitlines():
        head, _, value = line.rpartition(" ")
        if head == series:
            return float(value)
    return 0.0
