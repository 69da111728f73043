"""Every process answers /healthz, /readyz and /metrics."""

from __future__ import annotations

import httpx
import pytest
from processes import System, process_specs


@pytest.mark.parametrize("name", [spec.name for spec in process_specs()])
def test_every_process_reports_health_readiness_and_metrics(system: System, name: str) -> None:
    port = next(spec.port for spec in process_specs(system.base_port) if spec.name == name)
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/healthz").status_code == 200
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200, ready.text
    assert all(state == "ok" for state in ready.json()["checks"].values())
    metrics = httpx.get(f"{base}/metrics")
    assert metrics.status_code == 200
    assert "feedline_http_requests_total" in metrics.text or name == "fanout-worker"
