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


def test_request_id_appears_in_every_service_log_line_of_the_request(system: System, api) -> None:
    import uuid

    from feedline_client import eventually

    account = api.register("trace")
    request_id = f"trace-{uuid.uuid4().hex}"
    response = api.request(
        "POST", "/posts", account, json={"caption": "traced"}, headers={"X-Request-ID": request_id}
    )
    assert response.status_code == 201 and response.headers["x-request-id"] == request_id

    def logged_by() -> set[str]:
        return {
            path.stem
            for path in system.log_dir.glob("*.log")
            if request_id in path.read_text(errors="replace")
        }

    assert eventually(lambda: {"gateway", "post-service"} <= logged_by(), timeout=5)
