"""Access tokens: minted claims, and every way a forged or stale token is refused."""

from __future__ import annotations

import time

import jwt
import pytest

from feedline_shared.problems import Unauthorized
from feedline_shared.settings import DEFAULT_JWT_SECRET
from gateway.settings import Settings
from gateway.tokens import TokenIssuer

SECRET = DEFAULT_JWT_SECRET


def issuer(ttl: int = 3600) -> TokenIssuer:
    return TokenIssuer(
        SECRET, issuer="feedline", audience="feedline-api", ttl_seconds=ttl, leeway_seconds=0
    )


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "42",
        "iat": now,
        "exp": now + 60,
        "iss": "feedline",
        "aud": "feedline-api",
    }
    base.update(overrides)
    return base


def test_minted_token_carries_the_contract_claims_and_verifies() -> None:
    issued = issuer().mint(42)
    decoded = jwt.decode(issued.access_token, SECRET, algorithms=["HS256"], audience="feedline-api")
    assert decoded["sub"] == "42"
    assert decoded["iss"] == "feedline"
    assert decoded["exp"] - decoded["iat"] == 3600 == issued.expires_in
    assert decoded["jti"]
    assert jwt.get_unverified_header(issued.access_token)["alg"] == "HS256"
    assert issuer().verify(issued.access_token) == 42


def test_each_minted_token_has_its_own_jti() -> None:
    first, second = issuer().mint(1), issuer().mint(1)
    assert (
        jwt.decode(first.access_token, options={"verify_signature": False})["jti"]
        != (jwt.decode(second.access_token, options={"verify_signature": False})["jti"])
    )


def test_expired_token_is_refused_as_expired() -> None:
    token = issuer(ttl=60).mint(42, now=time.time() - 120).access_token
    with pytest.raises(Unauthorized, match="expired"):
        issuer().verify(token)


def tampered(token: str) -> str:
    """The token with one signature character changed: a middle one, which carries six bits
    of the signature (the last carries only two, and "AA" may already be what it ends with)."""
    head, payload, signature = token.split(".")
    middle = len(signature) // 2
    swapped = "B" if signature[middle] == "A" else "A"
    return f"{head}.{payload}.{signature[:middle]}{swapped}{signature[middle + 1 :]}"


def test_tampered_signature_is_refused() -> None:
    token = issuer().mint(42).access_token
    with pytest.raises(Unauthorized):
        issuer().verify(tampered(token))


def test_payload_swapped_under_a_valid_signature_is_refused() -> None:
    token = issuer().mint(42).access_token
    other = jwt.encode(claims(sub="1"), "another-secret-of-sufficient-length!!")
    head, _, signature = token.split(".")
    with pytest.raises(Unauthorized):
        issuer().verify(f"{head}.{other.split('.')[1]}.{signature}")


def test_alg_none_is_refused() -> None:
    token = jwt.encode(claims(), None, algorithm="none")
    with pytest.raises(Unauthorized):
        issuer().verify(token)


@pytest.mark.filterwarnings("ignore:The HMAC key")
def test_other_algorithm_with_the_same_secret_is_refused() -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS512")
    with pytest.raises(Unauthorized):
        issuer().verify(token)


@pytest.mark.parametrize("missing", ["sub", "exp", "iat", "iss", "aud"])
def test_token_without_a_required_claim_is_refused(missing: str) -> None:
    payload = claims()
    payload.pop(missing)
    with pytest.raises(Unauthorized):
        issuer().verify(jwt.encode(payload, SECRET, algorithm="HS256"))


@pytest.mark.parametrize(
    "override",
    [{"iss": "someone-else"}, {"aud": "another-api"}, {"sub": "alice"}, {"sub": "0"}],
)
def test_token_with_wrong_issuer_audience_or_subject_is_refused(
    override: dict[str, str],
) -> None:
    with pytest.raises(Unauthorized):
        issuer().verify(jwt.encode(claims(**override), SECRET, algorithm="HS256"))


def test_garbage_is_refused() -> None:
    with pytest.raises(Unauthorized):
        issuer().verify("not-a-jwt")


def test_production_refuses_the_development_or_a_short_jwt_secret() -> None:
    secure = {"environment": "production", "internal_token": "i" * 40}
    with pytest.raises(ValueError, match="JWT_SECRET"):
        Settings(**secure)
    with pytest.raises(ValueError, match="at least 32"):
        Settings(**secure, jwt_secret="short-secret")
    assert Settings(**secure, jwt_secret="s" * 32).jwt_secret == "s" * 32


def test_a_remembered_token_is_still_refused_once_it_expires() -> None:
    tokens = issuer(ttl=1)
    token = tokens.mint(42).access_token
    assert tokens.verify(token) == 42
    assert tokens.verify(token) == 42  # the second time from memory
    time.sleep(2.1)
    with pytest.raises(Unauthorized, match="expired"):
        tokens.verify(token)


def test_a_tampered_copy_of_a_remembered_token_is_refused() -> None:
    tokens = issuer()
    token = tokens.mint(42).access_token
    assert tokens.verify(token) == 42
    with pytest.raises(Unauthorized):
        tokens.verify(tampered(token))
