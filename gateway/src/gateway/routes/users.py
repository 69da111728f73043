"""/users: profiles and the social graph (user-service), a user's posts (post-service)."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from starlette.responses import Response

from feedline_shared.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from feedline_shared.schemas import AccountDeletion, Post, ProfileUpdate, User, UserSummary
from gateway.dependencies import CurrentPrincipal, ProxyDep, Username
from gateway.openapi import AUTHENTICATED, WITH_BODY, WITH_QUERY, problems
from gateway.schemas import FollowState

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=User, responses=problems(*AUTHENTICATED))
async def get_me(request: Request, principal: CurrentPrincipal, proxy: ProxyDep) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)


@router.patch("/me", response_model=User, responses=problems(*WITH_BODY, *AUTHENTICATED))
async def update_me(
    payload: ProfileUpdate, request: Request, principal: CurrentPrincipal, proxy: ProxyDep
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)


@router.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(403, *WITH_BODY, *AUTHENTICATED),
)
async def delete_me(
    payload: AccountDeletion, request: Request, principal: CurrentPrincipal, proxy: ProxyDep
) -> Response:
    """Deletes the caller's account (password asked again): its follows and API keys at once,
    its posts and likes right after; its session tokens are refused from then on."""
    return await proxy.forward(request, user_id=principal.user_id)


@router.get("/{username}", response_model=User, responses=problems(404, *AUTHENTICATED))
async def get_user(
    username: Username, request: Request, principal: CurrentPrincipal, proxy: ProxyDep
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)


@router.post(
    "/{username}/follow", response_model=FollowState, responses=problems(404, 422, *AUTHENTICATED)
)
async def follow(
    username: Username, request: Request, principal: CurrentPrincipal, proxy: ProxyDep
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)


@router.delete(
    "/{username}/follow", response_model=FollowState, responses=problems(404, *AUTHENTICATED)
)
async def unfollow(
    username: Username, request: Request, principal: CurrentPrincipal, proxy: ProxyDep
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)


@router.get(
    "/{username}/followers",
    response_model=Page[UserSummary],
    responses=problems(404, *WITH_QUERY, *AUTHENTICATED),
)
async def followers(
    username: Username,
    request: Request,
    principal: CurrentPrincipal,
    proxy: ProxyDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)


@router.get(
    "/{username}/following",
    response_model=Page[UserSummary],
    responses=problems(404, *WITH_QUERY, *AUTHENTICATED),
)
async def following(
    username: Username,
    request: Request,
    principal: CurrentPrincipal,
    proxy: ProxyDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)


@router.get(
    "/{username}/posts",
    response_model=Page[Post],
    responses=problems(404, *WITH_QUERY, *AUTHENTICATED),
)
async def user_posts(
    username: Username,
    request: Request,
    principal: CurrentPrincipal,
    proxy: ProxyDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)
