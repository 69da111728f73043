"""Registration and login, called by the gateway, which issues the tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from feedline_shared.schemas import LoginRequest, RegisterRequest, User
from user_service import service
from user_service.dependencies import (
    IdsDep,
    PasswordsDep,
    PostCountsDep,
    SessionDep,
    require_internal_caller,
)
from user_service.views import user_out

router = APIRouter(prefix="/internal/auth", dependencies=[Depends(require_internal_caller)])


@router.post("/register", status_code=201)
async def register(
    body: RegisterRequest, session: SessionDep, passwords: PasswordsDep, ids: IdsDep
) -> User:
    user = await service.register(session, passwords, ids, body)
    # A brand-new account has no posts; no need to ask post-service.
    return user_out(user, 0)


@router.post("/login")
async def login(
    body: LoginRequest, session: SessionDep, passwords: PasswordsDep, posts: PostCountsDep
) -> User:
    user = await service.authenticate(session, passwords, body)
    return user_out(user, await posts.of(user.id))
