"""The verified-token cache: a token seen again is not verified again, until its exp (and
at most max_age_s); failures are never cached; the size is bounded."""

from __future__ import annotations

import time

import httpx
import pytest

from service.exceptions import Unauthorized
from service.main import create_app
from service.settings import AuthSettings, Settings
from service.tenants import dependencies
from service.tenants.auth import decode_token, issue_token
from service.tenants.dependencies import JwtPrincipalCache
from service.tenants.schemas import Principal, Role

AUTH = AuthSettings(jwt_key="unit-test-key-" + "x" * 32)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token the cache hands to the real decode_token."""
    seen: list[str] = []

    def counting(settings: AuthSettings, token: str) -> Principal:
        seen.append(token)
        return decode_token(settings, token)

    monkeypatch.setattr(dependencies, "decode_token", counting)
    return seen


def _token(ttl_s: float = 60, tenant: str = "acme") -> str:
    return issue_token(AUTH, tenant=tenant, role=Role.USER, ttl_s=ttl_s)


def test_a_token_sent_again_is_not_verified_again(decodes: list[str]) -> None:
    cache = JwtPrincipalCache()
    token = _token()
    first = cache.principal(AUTH, token)
    second = cache.principal(AUTH, token)
    assert first == second and first.tenant == "acme" and first.role is Role.USER
    assert decodes == [token]


def test_an_entry_ends_at_the_tokens_exp(decodes: list[str]) -> None:
    clock = Clock()
    cache = JwtPrincipalCache(max_age_s=3600, timer=clock)
    token = _token(ttl_s=60)
    cache.principal(AUTH, token)
    clock.now += 58
    cache.principal(AUTH, token)
    assert len(decodes) == 1
    clock.now += 3  # past exp on the cache's clock: verified again (decode_token decides)
    cache.principal(AUTH, token)
    assert len(decodes) == 2


def test_an_entry_lives_at_most_max_age_s(decodes: list[str]) -> None:
    clock = Clock()
    cache = JwtPrincipalCache(max_age_s=30, timer=clock)
    token = _token(ttl_s=3600)
    cache.principal(AUTH, token)
    clock.now += 31
    cache.principal(AUTH, token)
    assert len(decodes) == 2


def test_a_token_inside_the_leeway_is_accepted_but_not_cached(decodes: list[str]) -> None:
    cache = JwtPrincipalCache()
    token = _token(ttl_s=-1)  # expired a second ago; decode_token's leeway is 5 s
    assert cache.principal(AUTH, token).tenant == "acme"
    assert len(cache) == 0
    cache.principal(AUTH, token)
    assert len(decodes) == 2


@pytest.mark.parametrize(
    "token",
    [_token(ttl_s=-60), "not-a-jwt", _token()[:-4] + "AAAA"],
    ids=["expired", "garbage", "bad-signature"],
)
def test_a_rejected_token_is_never_cached(decodes: list[str], token: str) -> None:
    cache = JwtPrincipalCache()
    for _ in range(2):
        with pytest.raises(Unauthorized):
            cache.principal(AUTH, token)
    assert len(decodes) == 2 and len(cache) == 0


def test_the_cache_is_bounded() -> None:
    cache = JwtPrincipalCache(maxsize=2)
    for tenant in ("t1", "t2", "t3"):
        cache.principal(AUTH, _token(tenant=tenant))
    assert len(cache) == 2


async def test_each_app_keeps_its_own_cache() -> None:
    # A token verified under one app's keys says nothing about another app's keys.
    token = _token()
    answers = []
    apps = []
    for key in (AUTH.jwt_key, "another-unit-test-key-" + "y" * 32):
        settings = Settings.from_env()
        settings.auth = AuthSettings(jwt_key=key)
        app = create_app(settings)
        apps.append(app)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            response = await client.get(
                "/v1/search", params={"q": "x"}, headers={"Authorization": f"Bearer {token}"}
            )
        answers.append(response.status_code)
    # The first app took the token (then 503: no runtime without a lifespan); not the second.
    assert answers == [503, 401]
    assert len(apps[0].state.jwt_principals) == 1
    assert len(apps[1].state.jwt_principals) == 0
