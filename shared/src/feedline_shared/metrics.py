"""Prometheus metrics every process exports, and the ASGI middleware that records HTTP ones.

Names follow ``feedline_<thing>_<unit>``; every HTTP series carries ``service``, ``method``,
``route`` (the route template, never the raw path) and ``status``.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "feedline_http_requests_total",
    "HTTP requests served, by route and status.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "feedline_http_request_duration_seconds",
    "HTTP request latency, by route.",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge(
    "feedline_http_requests_in_flight", "HTTP requests being served.", ["service"]
)
DEPENDENCY_UP = Gauge(
    "feedline_dependency_up",
    "1 when the named dependency answered the last readiness check, else 0.",
    ["service", "dependency"],
)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        self._in_flight = HTTP_IN_FLIGHT.labels(service)
        # Each series' children, looked up once: labels() locks and hashes on every call.
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    @staticmethod
    def _route_template(scope: Scope) -> str:
        # The router records the matched route in the shared scope while handling the request.
        route = scope.get("route")
        return getattr(route, "path", None) or "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            await send(message)

        self._in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self._in_flight.dec()
            requests, latency = self._children(
                scope["method"], self._route_template(scope), status_holder["status"]
            )
            requests.inc()
            latency.observe(time.perf_counter() - start)

    def _children(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        key = (method, route, status)
        children = self._series.get(key)
        if children is None:
            children = (
                HTTP_REQUESTS.labels(self.service, method, route, str(status)),
                HTTP_LATENCY.labels(self.service, method, route),
            )
            self._series[key] = children
        return children


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
