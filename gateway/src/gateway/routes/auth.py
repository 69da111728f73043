"""/auth: register, log in (token) and API keys."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from feedline_shared.schemas import ApiKeyCreateRequest, LoginRequest, RegisterRequest
from gateway import sessions
from gateway.dependencies import AddressLimited, ApiKeyId, CurrentPrincipal, ProxyDep, TokensDep
from gateway.openapi import AUTHENTICATED, EDGE, WITH_BODY, problems
from gateway.schemas import AccessToken, ApiKeyCreated, ApiKeyList, Registration

router = APIRouter(prefix="/auth", tags=["auth"])

# Request body parameters below are declared for validation and documentation at the edge; the
# original bytes are what the service receives.


@router.post(
    "/register",
    status_code=201,
    response_model=Registration,
    responses=problems(409, *WITH_BODY, *EDGE),
    dependencies=[AddressLimited],
    summary="Create an account and get a first access token",
)
async def register(
    payload: RegisterRequest, request: Request, proxy: ProxyDep, tokens: TokensDep
) -> Response:
    return await sessions.register(proxy, tokens, await request.body())


@router.post(
    "/token",
    response_model=AccessToken,
    responses=problems(401, *WITH_BODY, *EDGE),
    dependencies=[AddressLimited],
    summary="Exchange username and password for an access token",
)
async def token(
    payload: LoginRequest, request: Request, proxy: ProxyDep, tokens: TokensDep
) -> Response:
    return await sessions.log_in(proxy, tokens, await request.body())


@router.post(
    "/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=problems(*WITH_BODY, *AUTHENTICATED),
    summary="Create an API key (the key is shown once)",
)
async def create_api_key(
    payload: ApiKeyCreateRequest, request: Request, principal: CurrentPrincipal, proxy: ProxyDep
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)


@router.get(
    "/api-keys",
    response_model=ApiKeyList,
    responses=problems(*AUTHENTICATED),
    summary="List the caller's API keys, without key material",
)
async def list_api_keys(request: Request, principal: CurrentPrincipal, proxy: ProxyDep) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)


@router.delete(
    "/api-keys/{key_id}",
    status_code=204,
    response_class=Response,
    responses=problems(404, *AUTHENTICATED),
    summary="Revoke an API key at once",
)
async def revoke_api_key(
    key_id: ApiKeyId, request: Request, principal: CurrentPrincipal, proxy: ProxyDep
) -> Response:
    return await proxy.forward(request, user_id=principal.user_id)
