"""Secrets come from the environment; production refuses development or missing secrets."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import uvicorn_args
from pydantic import ValidationError

from fanout_worker.settings import Settings as WorkerSettings
from feed_service.settings import Settings as FeedSettings
from feedline_shared.settings import DEFAULT_INTERNAL_TOKEN, DEFAULT_JWT_SECRET
from gateway.settings import Settings as GatewaySettings
from post_service.settings import Settings as PostSettings
from user_service.settings import Settings as UserSettings

ROOT = Path(__file__).resolve().parents[2]
STRONG = "s" * 48
EVERY_SERVICE = [GatewaySettings, UserSettings, PostSettings, FeedSettings, WorkerSettings]
SECRET_VARIABLES = ("ENVIRONMENT", "INTERNAL_TOKEN", "JWT_SECRET")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in SECRET_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("settings_class", EVERY_SERVICE)
@pytest.mark.parametrize("internal_token", [None, "", DEFAULT_INTERNAL_TOKEN, "short"])
def test_production_refuses_a_default_missing_or_weak_internal_credential(
    clean_env: pytest.MonkeyPatch, settings_class: type, internal_token: str | None
) -> None:
    clean_env.setenv("ENVIRONMENT", "production")
    clean_env.setenv("JWT_SECRET", STRONG)
    if internal_token is not None:
        clean_env.setenv("INTERNAL_TOKEN", internal_token)
    with pytest.raises(ValidationError, match="INTERNAL_TOKEN"):
        settings_class()


@pytest.mark.parametrize("jwt_secret", [None, "", DEFAULT_JWT_SECRET, "short-secret"])
def test_production_gateway_refuses_a_default_missing_or_weak_jwt_secret(
    clean_env: pytest.MonkeyPatch, jwt_secret: str | None
) -> None:
    clean_env.setenv("ENVIRONMENT", "production")
    clean_env.setenv("INTERNAL_TOKEN", STRONG)
    if jwt_secret is not None:
        clean_env.setenv("JWT_SECRET", jwt_secret)
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        GatewaySettings()


@pytest.mark.parametrize("settings_class", EVERY_SERVICE)
def test_production_accepts_secrets_from_the_environment(
    clean_env: pytest.MonkeyPatch, settings_class: type
) -> None:
    clean_env.setenv("ENVIRONMENT", "production")
    clean_env.setenv("INTERNAL_TOKEN", STRONG)
    clean_env.setenv("JWT_SECRET", "j" * 40)
    settings = settings_class()
    assert settings.internal_token == STRONG
    if settings_class is GatewaySettings:
        assert settings.jwt_secret == "j" * 40


def test_production_gateway_process_exits_with_a_clear_message_on_the_default_secret() -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in {*SECRET_VARIABLES, "PORT"}
    }
    env.update(ENVIRONMENT="production", INTERNAL_TOKEN=STRONG, PORT="18199")
    result = subprocess.run(
        uvicorn_args("gateway.app:create_app", 18199),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "JWT_SECRET must be set to a secret value in production" in output
    assert "Application startup complete" not in output
