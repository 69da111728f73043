"""The explicit table of public routes: which service answers each, and at which path.

Only the routes listed here ever reach a service; ``/api/v1/internal/...`` and any other path
not in the table are 404 at the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

API_PREFIX = "/api/v1"


class Upstream(StrEnum):
    USERS = "user-service"
    POSTS = "post-service"
    FEED = "feed-service"


@dataclass(frozen=True, slots=True)
class RouteTarget:
    service: Upstream
    #: Path template at the service; its ``{names}`` are the public route's path parameters.
    path: str


#: (method, public path template without the /api/v1 prefix) -> where it is answered.
PUBLIC_ROUTES: dict[tuple[str, str], RouteTarget] = {
    # Sessions and API keys: the gateway mints tokens around user-service's internal auth.
    ("POST", "/auth/register"): RouteTarget(Upstream.USERS, "/internal/auth/register"),
    ("POST", "/auth/token"): RouteTarget(Upstream.USERS, "/internal/auth/login"),
    ("POST", "/auth/api-keys"): RouteTarget(Upstream.USERS, "/internal/api-keys"),
    ("GET", "/auth/api-keys"): RouteTarget(Upstream.USERS, "/internal/api-keys"),
    ("DELETE", "/auth/api-keys/{key_id}"): RouteTarget(
        Upstream.USERS, "/internal/api-keys/{key_id}"
    ),
    # Users and the social graph.
    ("GET", "/users/me"): RouteTarget(Upstream.USERS, "/users/me"),
    ("PATCH", "/users/me"): RouteTarget(Upstream.USERS, "/users/me"),
    ("DELETE", "/users/me"): RouteTarget(Upstream.USERS, "/users/me"),
    ("GET", "/users/{username}"): RouteTarget(Upstream.USERS, "/users/{username}"),
    ("POST", "/users/{username}/follow"): RouteTarget(Upstream.USERS, "/users/{username}/follow"),
    ("DELETE", "/users/{username}/follow"): RouteTarget(Upstream.USERS, "/users/{username}/follow"),
    ("GET", "/users/{username}/followers"): RouteTarget(
        Upstream.USERS, "/users/{username}/followers"
    ),
    ("GET", "/users/{username}/following"): RouteTarget(
        Upstream.USERS, "/users/{username}/following"
    ),
    ("GET", "/users/{username}/posts"): RouteTarget(Upstream.POSTS, "/users/{username}/posts"),
    # Posts.
    ("POST", "/posts"): RouteTarget(Upstream.POSTS, "/posts"),
    ("GET", "/posts/{post_id}"): RouteTarget(Upstream.POSTS, "/posts/{post_id}"),
    ("DELETE", "/posts/{post_id}"): RouteTarget(Upstream.POSTS, "/posts/{post_id}"),
    ("POST", "/posts/{post_id}/like"): RouteTarget(Upstream.POSTS, "/posts/{post_id}/like"),
    ("DELETE", "/posts/{post_id}/like"): RouteTarget(Upstream.POSTS, "/posts/{post_id}/like"),
    # Feed.
    ("GET", "/feed"): RouteTarget(Upstream.FEED, "/feed"),
}


def resolve(method: str, public_path: str, path_params: dict[str, str]) -> RouteTarget | None:
    """The table entry a matched request belongs to, or None.

    ``public_path`` is the request path without the /api/v1 prefix and ``path_params`` the values
    the router matched, so exactly one template rebuilds the path (``/users/me`` has no parameter,
    ``/users/{username}`` has one).
    """
    for (route_method, template), target in PUBLIC_ROUTES.items():
        if route_method != method:
            continue
        try:
            if template.format(**path_params) == public_path:
                return target
        except (KeyError, IndexError):
            continue
    return None
