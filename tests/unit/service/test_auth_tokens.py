from __future__ import annotations

import time

import jwt
import pytest

from service.exceptions import Unauthorized
from service.settings import AuthSettings
from service.tenants.auth import decode_token, hash_api_key, issue_token, new_api_key
from service.tenants.schemas import Role

AUTH = AuthSettings(jwt_key="unit-test-key-" + "x" * 32)


def test_a_token_round_trips_tenant_role_and_subject() -> None:
    token = issue_token(AUTH, tenant="acme", role="read-only", ttl_s=60, subject="alice")
    principal = decode_token(AUTH, token)
    assert (principal.tenant, principal.role, principal.subject) == (
        "acme",
        Role.READ_ONLY,
        "alice",
    )


def test_an_expired_token_is_unauthorized() -> None:
    token = issue_token(AUTH, tenant="acme", role="user", ttl_s=-(AUTH.jwt_leeway_s + 5))
    with pytest.raises(Unauthorized, match="expired"):
        decode_token(AUTH, token)


def test_a_token_signed_with_another_key_is_unauthorized() -> None:
    other = AuthSettings(jwt_key="another-key-" + "y" * 32)
    with pytest.raises(Unauthorized, match="invalid token"):
        decode_token(AUTH, issue_token(other, tenant="acme", role="user", ttl_s=60))


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"sub": "s", "role": "user"}, "tenant"),
        ({"sub": "s", "tenant": "acme", "role": "root"}, "unknown role"),
        ({"sub": "s", "tenant": "Not A Tenant!", "role": "user"}, "bad tenant"),
    ],
    ids=["no-tenant", "unknown-role", "bad-tenant"],
)
def test_tokens_with_bad_claims_are_unauthorized(claims: dict[str, object], message: str) -> None:
    token = jwt.encode({**claims, "exp": int(time.time()) + 60}, AUTH.jwt_key, algorithm="HS256")
    with pytest.raises(Unauthorized, match=message):
        decode_token(AUTH, token)


def test_the_none_algorithm_is_refused() -> None:
    token = jwt.encode(
        {"sub": "s", "tenant": "acme", "role": "admin", "exp": int(time.time()) + 60},
        key=None,
        algorithm="none",
    )
    with pytest.raises(Unauthorized):
        decode_token(AUTH, token)


def test_api_keys_are_random_and_stored_as_a_stable_hash() -> None:
    first, second = new_api_key(), new_api_key()
    assert first != second and first.startswith("gdk_")
    assert hash_api_key(first) == hash_api_key(first)
    assert first not in hash_api_key(first) and len(hash_api_key(first)) == 64
