"""API key management for the acting user, and verification for the gateway."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from feedline_shared.schemas import ApiKeyCreateRequest
from user_service import api_keys
from user_service.dependencies import (
    ActingUser,
    ApiKeyTouchInterval,
    IdsDep,
    KeyIdPath,
    SessionDep,
    require_internal_caller,
)
from user_service.schemas import (
    ApiKeyCreated,
    ApiKeyIdentity,
    ApiKeyInfo,
    ApiKeyList,
    ApiKeyVerifyRequest,
)

router = APIRouter(prefix="/internal/api-keys", dependencies=[Depends(require_internal_caller)])


@router.post("", status_code=201)
async def create_key(
    body: ApiKeyCreateRequest, user_id: ActingUser, session: SessionDep, ids: IdsDep
) -> ApiKeyCreated:
    api_key, key = await api_keys.create(session, ids, user_id, body.name)
    return ApiKeyCreated(id=api_key.id, name=api_key.name, key=key, created_at=api_key.created_at)


@router.get("")
async def list_keys(user_id: ActingUser, session: SessionDep) -> ApiKeyList:
    keys = await api_keys.list_active(session, user_id)
    return ApiKeyList(items=[ApiKeyInfo.model_validate(k) for k in keys])


@router.post("/verify")
async def verify_key(
    body: ApiKeyVerifyRequest, session: SessionDep, touch_interval: ApiKeyTouchInterval
) -> ApiKeyIdentity:
    api_key = await api_keys.verify(session, body.key, touch_interval)
    return ApiKeyIdentity(user_id=api_key.user_id, key_id=api_key.id)


@router.delete("/{key_id}", status_code=204)
async def revoke_key(key_id: KeyIdPath, user_id: ActingUser, session: SessionDep) -> Response:
    await api_keys.revoke(session, user_id, key_id)
    return Response(status_code=204)
