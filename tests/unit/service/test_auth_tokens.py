"""Tokens: every way a token can be wrong is a 401 (Unauthorized), each named."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from service.exceptions import Unauthorized
from service.settings import AuthSettings
from service.tenants.auth import decode_token, hash_api_key, issue_token, new_api_key
from service.tenants.keys import KeySet, SigningKey
from service.tenants.schemas import Role

AUTH = AuthSettings(jwt_key="unit-test-key-" + "x" * 32, jwt_kid="k1")


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "s",
        "tenant": "acme",
        "role": "user",
        "aud": AUTH.jwt_audience,
        "iat": now,
        "exp": now + 60,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, Any], key: str = AUTH.jwt_key, kid: str | None = "k1") -> str:
    return jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid} if kid else None)


def _rotated(grace_until: datetime) -> AuthSettings:
    """k2 signs now; k1 is retired with the given grace end."""
    settings = AuthSettings(jwt_key="unused-" + "u" * 32)
    keyset = KeySet(
        current="k2",
        keys=[
            SigningKey(kid="k2", secret="second-key-" + "b" * 32),
            SigningKey(kid="k1", secret=AUTH.jwt_key, status="retired", grace_until=grace_until),
        ],
    )
    settings._keyset = keyset
    return settings


def test_a_token_round_trips_tenant_role_and_subject() -> None:
    token = issue_token(AUTH, tenant="acme", role="read-only", ttl_s=60, subject="alice")
    principal = decode_token(AUTH, token)
    assert (principal.tenant, principal.role, principal.subject) == (
        "acme",
        Role.READ_ONLY,
        "alice",
    )


def test_a_token_names_its_key_and_audience() -> None:
    token = issue_token(AUTH, tenant="acme", role="user", ttl_s=60)
    assert jwt.get_unverified_header(token)["kid"] == "k1"
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == "gameday-service"


def test_an_expired_token_is_unauthorized() -> None:
    token = issue_token(AUTH, tenant="acme", role="user", ttl_s=-(AUTH.jwt_leeway_s + 5))
    with pytest.raises(Unauthorized, match="expired"):
        decode_token(AUTH, token)


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"tenant": None}, "tenant"),
        ({"role": "root"}, "unknown role"),
        ({"tenant": "Not A Tenant!"}, "bad tenant"),
        ({"aud": "another-service"}, "(?i)audience"),
        ({"aud": None}, "aud"),
        ({"iat": None}, "iat"),
        ({"iat": int(time.time()) + 3600}, "not yet valid"),
        ({"nbf": int(time.time()) + 3600}, "not yet valid"),
    ],
    ids=[
        "no-tenant",
        "unknown-role",
        "bad-tenant",
        "wrong-audience",
        "no-audience",
        "no-iat",
        "iat-in-the-future",
        "nbf-in-the-future",
    ],
)
def test_tokens_with_bad_claims_are_unauthorized(claims: dict[str, object], message: str) -> None:
    with pytest.raises(Unauthorized, match=message):
        decode_token(AUTH, _sign(_claims(**claims)))


def test_a_token_inside_the_leeway_is_accepted() -> None:
    soon = int(time.time()) + AUTH.jwt_leeway_s - 2
    assert decode_token(AUTH, _sign(_claims(iat=soon, nbf=soon))).tenant == "acme"


def test_a_token_signed_with_another_key_is_unauthorized() -> None:
    with pytest.raises(Unauthorized, match="Signature verification failed"):
        decode_token(AUTH, _sign(_claims(), key="another-key-" + "y" * 32))


def test_the_none_algorithm_is_refused() -> None:
    for kid in ("k1", None):
        token = jwt.encode(
            _claims(role="admin"), key=None, algorithm="none", headers={"kid": kid} if kid else None
        )
        with pytest.raises(Unauthorized, match="invalid token"):
            decode_token(AUTH, token)


def test_an_unknown_key_id_is_unauthorized() -> None:
    with pytest.raises(Unauthorized, match="unknown key id 'k9'"):
        decode_token(AUTH, _sign(_claims(), kid="k9"))


def test_a_retired_key_verifies_during_its_grace_period_only() -> None:
    old_token = _sign(_claims(), kid="k1")
    in_grace = _rotated(datetime.now(UTC) + timedelta(hours=1))
    assert decode_token(in_grace, old_token).tenant == "acme"
    after_grace = _rotated(datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(Unauthorized, match="key 'k1' was retired"):
        decode_token(after_grace, old_token)


def test_new_tokens_are_signed_with_the_current_key_and_still_verify() -> None:
    rotated = _rotated(datetime.now(UTC) - timedelta(days=1))
    token = issue_token(rotated, tenant="acme", role="admin", ttl_s=60)
    assert jwt.get_unverified_header(token)["kid"] == "k2"
    assert decode_token(rotated, token).role is Role.ADMIN


def test_a_token_without_key_id_is_checked_with_the_current_key_only() -> None:
    rotated = _rotated(datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(Unauthorized, match="Signature verification failed"):
        decode_token(rotated, _sign(_claims(), kid=None))  # signed with k1, retired


def test_api_keys_are_random_and_stored_as_a_stable_hash() -> None:
    first, second = new_api_key(), new_api_key()
    assert first != second and first.startswith("gdk_")
    assert hash_api_key(first) == hash_api_key(first)
    assert first not in hash_api_key(first) and len(hash_api_key(first)) == 64
