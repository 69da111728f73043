"""Calls to the services over the process's one pooled client, and relaying their answers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import quote

import httpx
from fastapi import Request
from starlette.responses import Response

from feedline_shared.context import USER_ID_HEADER
from feedline_shared.http import InternalCredentialRefused
from feedline_shared.problems import DependencyUnavailable, NotFound
from gateway.routing import API_PREFIX, RouteTarget, Upstream, resolve

logger = logging.getLogger(__name__)

#: Client headers passed on to the service; everything else (notably a client-sent
#: X-User-ID or X-Internal-Token) is dropped. X-Request-ID is added by the internal client.
FORWARDED_REQUEST_HEADERS = ("content-type", "idempotency-key")
#: Service headers passed back to the client besides the body and status.
RELAYED_RESPONSE_HEADERS = ("content-type", "retry-after", "www-authenticate")


def relay(upstream: httpx.Response) -> Response:
    """The service's answer as-is: status, body bytes (not re-parsed) and the useful headers."""
    found = upstream.headers
    headers = {name: found[name] for name in RELAYED_RESPONSE_HEADERS if name in found}
    if upstream.status_code == 401:
        # The public contract promises the challenge on every 401, whoever produced it.
        headers.setdefault("www-authenticate", "Bearer")
    return Response(content=upstream.content, status_code=upstream.status_code, headers=headers)


class Proxy:
    """Sends requests to the services; a service that is down or too slow becomes a 503."""

    def __init__(self, http: httpx.AsyncClient, base_urls: Mapping[Upstream, str]) -> None:
        self.http = http
        self.base_urls = {service: url.rstrip("/") for service, url in base_urls.items()}

    async def send(
        self,
        service: Upstream,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        url = self.base_urls[service] + path
        if query:
            url = f"{url}?{query}"
        try:
            return await self.http.request(method, url, content=body or None, headers=headers)
        except (httpx.TransportError, OSError, TimeoutError) as exc:
            logger.warning(
                "service unreachable",
                extra={"dependency": str(service), "error": type(exc).__name__},
            )
            raise DependencyUnavailable(f"{service} is unavailable; try again later") from exc

    async def healthz(self, service: Upstream) -> None:
        """Readiness probe: the service's /healthz answers 200."""
        response = await self.http.get(self.base_urls[service] + "/healthz")
        response.raise_for_status()

    async def forward(self, request: Request, *, user_id: int | None) -> Response:
        """Sends a validated public request to the service its route names in the table."""
        target = target_of(request)
        path = target.path.format(
            **{name: quote(value, safe="") for name, value in request.path_params.items()}
        )
        headers = {
            name: request.headers[name]
            for name in FORWARDED_REQUEST_HEADERS
            if name in request.headers
        }
        body = await request.body()
        if body and "content-type" not in headers:
            # FastAPI parsed a body without a Content-Type as JSON, so that is what it is.
            headers["content-type"] = "application/json"
        if user_id is not None:
            headers[USER_ID_HEADER] = str(user_id)
        upstream = await self.send(
            target.service,
            request.method,
            path,
            query=request.url.query,
            body=body,
            headers=headers,
        )
        if upstream.status_code == 401 and _refused_internal_credential(upstream):
            # The services refused the gateway's own credential (INTERNAL_TOKEN mismatch):
            # nothing the client can fix. Other 401s (an acting user that no longer exists)
            # are the client's and pass through.
            logger.error(
                "service refused the internal credential",
                extra={"dependency": str(target.service), "path": path},
            )
            raise DependencyUnavailable(f"{target.service} refused the gateway's credential")
        return relay(upstream)


def _refused_internal_credential(upstream: httpx.Response) -> bool:
    try:
        problem_type = upstream.json().get("type", "")
    except (ValueError, AttributeError):
        return False
    return isinstance(problem_type, str) and problem_type.endswith(
        "/" + InternalCredentialRefused.slug
    )


def target_of(request: Request) -> RouteTarget:
    public_path = request.url.path.removeprefix(API_PREFIX)
    target = resolve(request.method, public_path, request.path_params)
    if target is None:
        # A declared route missing from the table is a gateway bug; refusing keeps it closed.
        logger.error("route not in the routing table", extra={"path": public_path})
        raise NotFound("No such route")
    return target
