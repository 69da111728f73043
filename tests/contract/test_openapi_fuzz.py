"""Property-based fuzzing of every operation in the gateway's OpenAPI document (schemathesis).

Each operation is called with generated valid and invalid input, once as a session (Bearer JWT)
and once as an app (X-API-Key). The answers must never be a server error and must match what the
document declares: status code, body schema (problem+json for every error) and headers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from conftest import BASE_PORT, Feedline, System, register
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from gateway.app import create_app
from gateway.settings import Settings as GatewaySettings

#: Per-operation budgets, small so the suite stays inside its time allowance on two shared cores;
#: raise them (CONTRACT_FUZZ_EXAMPLES) for a deeper run.
MAX_EXAMPLES = int(os.environ.get("CONTRACT_FUZZ_EXAMPLES", "10"))
API_KEY_EXAMPLES = max(1, MAX_EXAMPLES // 2)
#: Fixed by default so a red run reproduces; set another seed to explore further.
SEED = int(os.environ.get("CONTRACT_FUZZ_SEED", "20261124"))
GATEWAY_URL = f"http://127.0.0.1:{BASE_PORT}"
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def _gateway_openapi() -> dict[str, Any]:
    """The document the gateway serves, built by the same code at collection time (one pytest
    item per operation needs it before the processes start); a test below proves it is the one
    the running gateway serves."""
    return create_app(GatewaySettings()).openapi()


def _schema(max_examples: int, phases: tuple[str, ...]) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_dict(
        DOCUMENT,
        config=schemathesis.Config.from_dict(
            {
                "base-url": GATEWAY_URL,
                "seed": SEED,
                "request-timeout": 30,
                "generation": {"max-examples": max_examples},
                # Stateful chains are left out: every operation is tested on its own.
                "phases": {
                    name: {"enabled": name in phases}
                    for name in ("examples", "coverage", "fuzzing", "stateful")
                },
            }
        ),
    )


DOCUMENT = _gateway_openapi()
# The session run gets the boundary and negative values of every parameter (coverage) as well as
# random valid and invalid input; the API-key run proves that path of authentication on every
# operation with a smaller random budget.
session_schema = _schema(MAX_EXAMPLES, ("examples", "coverage", "fuzzing"))
api_key_schema = _schema(API_KEY_EXAMPLES, ("examples", "fuzzing"))


def _bounded(max_examples: int):  # type: ignore[no-untyped-def]
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )


@pytest.fixture(scope="session")
def fuzz_credentials(api: Feedline) -> Iterator[dict[str, dict[str, str]]]:
    """Headers of one account, as a session token and as an API key of the same account."""
    account = register(api, "fuzz")
    created = api.request("POST", "/auth/api-keys", account, json={"name": "fuzzer"})
    assert created.status_code == 201, created.text
    yield {
        "bearer": {"Authorization": f"Bearer {account.token}"},
        "api_key": {"X-API-Key": created.json()["key"]},
    }


def test_the_fuzzed_document_is_the_one_the_gateway_serves(system: System) -> None:
    served = httpx.get(f"{system.gateway_url}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == DOCUMENT


@session_schema.parametrize()
@_bounded(MAX_EXAMPLES)
def test_every_operation_with_a_session_token(
    case: schemathesis.Case, fuzz_credentials: dict[str, dict[str, str]]
) -> None:
    case.call_and_validate(headers=fuzz_credentials["bearer"], checks=CHECKS)


@api_key_schema.parametrize()
@_bounded(API_KEY_EXAMPLES)
def test_every_operation_with_an_api_key(
    case: schemathesis.Case, fuzz_credentials: dict[str, dict[str, str]]
) -> None:
    case.call_and_validate(headers=fuzz_credentials["api_key"], checks=CHECKS)
