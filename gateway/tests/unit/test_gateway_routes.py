"""The routing table, the declared routes and the OpenAPI document agree with docs/api.md."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.app import create_app
from gateway.routing import API_PREFIX, PUBLIC_ROUTES, Upstream, resolve

API_DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"
_DOC_ROUTE = re.compile(r"\b(GET|POST|PATCH|PUT|DELETE) (/api/v1/[A-Za-z0-9_\-/{}]+)")


def documented_routes() -> set[tuple[str, str]]:
    found = set()
    for method, path in _DOC_ROUTE.findall(API_DOC.read_text()):
        # The doc names parameters freely ({id}); compare templates by position only.
        found.add((method, re.sub(r"\{[^}]+\}", "{}", path)))
    return found


def normalised(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_declared_route_is_in_the_routing_table_and_back() -> None:
    declared = {
        (method.upper(), path.removeprefix(API_PREFIX))
        for path, operations in create_app().openapi()["paths"].items()
        for method in operations
    }
    assert declared == set(PUBLIC_ROUTES)


def test_a_matched_request_resolves_to_exactly_its_table_entry() -> None:
    assert resolve("GET", "/users/me", {}) == PUBLIC_ROUTES[("GET", "/users/me")]
    assert (
        resolve("GET", "/users/bob", {"username": "bob"})
        == (PUBLIC_ROUTES[("GET", "/users/{username}")])
    )
    assert resolve("GET", "/users/bob/posts", {"username": "bob"}).service is Upstream.POSTS
    assert (
        resolve("DELETE", "/posts/5/like", {"post_id": "5"})
        == (PUBLIC_ROUTES[("DELETE", "/posts/{post_id}/like")])
    )
    assert resolve("GET", "/internal/auth/login", {}) is None
    assert resolve("PUT", "/posts", {}) is None


def test_nothing_public_is_answered_by_an_internal_route_except_auth() -> None:
    for (_, public_path), target in PUBLIC_ROUTES.items():
        if target.path.startswith("/internal/"):
            assert public_path.startswith("/auth/")
        else:
            assert target.path == public_path


def test_routes_go_to_the_services_named_in_the_architecture() -> None:
    assert PUBLIC_ROUTES[("GET", "/users/{username}/posts")].service is Upstream.POSTS
    assert PUBLIC_ROUTES[("GET", "/users/{username}")].service is Upstream.USERS
    assert PUBLIC_ROUTES[("DELETE", "/posts/{post_id}/like")].service is Upstream.POSTS
    assert PUBLIC_ROUTES[("GET", "/feed")].service is Upstream.FEED


def test_openapi_lists_every_route_of_the_public_contract() -> None:
    schema = create_app().openapi()
    listed = {
        (method.upper(), normalised(path))
        for path, operations in schema["paths"].items()
        for method in operations
    }
    documented = documented_routes()
    assert len(documented) == len(PUBLIC_ROUTES) == 20
    assert documented <= listed
    assert not any("/internal" in path for path in schema["paths"])
