"""/posts: create, read, delete, like (post-service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from feedline_shared.schemas import Post, PostCreateRequest
from gateway.dependencies import CurrentPrincipal, PostId, ProxyDep
from gateway.openapi import AUTHENTICATED, WITH_BODY, problems
from gateway.schemas import LikeState

router = APIRouter(prefix="/posts", tags=["posts"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="A retry with the same key returns the same post instead of a duplicate.",
    ),
]


@router.post(
    "", status_code=201, response_model=Post, responses=problems(*WITH_BODY, *AUTHENTICATED)
)
async def create_post(
    payload: PostCreateRequest,
    request: Request,
    principal: CurrentPrincipal,
    proxy: ProxyDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)


@router.get("/{post_id}", response_model=Post, responses=problems(404, *AUTHENTICATED))
async def get_post(
    post_id: PostId, request: Request, principal: CurrentPrincipal, proxy: ProxyDep
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)


@router.delete(
    "/{post_id}",
    status_code=204,
    response_class=Response,
    responses=problems(403, 404, *AUTHENTICATED),
)
async def delete_post(
    post_id: PostId, request: Request, principal: CurrentPrincipal, proxy: ProxyDep
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)


@router.post("/{post_id}/like", response_model=LikeState, responses=problems(404, *AUTHENTICATED))
async def like(
    post_id: PostId, request: Request, principal: CurrentPrincipal, proxy: ProxyDep
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)


@router.delete("/{post_id}/like", response_model=LikeState, responses=problems(404, *AUTHENTICATED))
async def unlike(
    post_id: PostId, request: Request, principal: CurrentPrincipal, proxy: ProxyDep
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)
