"""Pure logic of the rate limiter: quotas per role and tenant, and the headers it sends."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.security.ratelimit import Decision, Quota
from service.settings import RateLimitSettings


def test_each_role_has_its_own_quota() -> None:
    settings = RateLimitSettings(read_only_rate_rps=3, read_only_burst=6, admin_burst=9)
    assert settings.role_quota("read-only") == (3.0, 6)
    assert settings.role_quota("admin")[1] == 9


def test_a_tenant_override_reads_as_json_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SERVICE_RATELIMIT_TENANT_OVERRIDES", '{"tenant-noisy": [5, 10]}')
    assert RateLimitSettings().tenant_overrides == {"tenant-noisy": (5.0, 10)}


def test_an_override_without_a_positive_rate_names_the_tenant() -> None:
    with pytest.raises(ValidationError, match=r"TENANT_OVERRIDES\['acme'\]"):
        RateLimitSettings(tenant_overrides={"acme": (0, 10)})


def test_a_refusal_carries_retry_after_and_the_ietf_fields() -> None:
    decision = Decision(
        "rejected", limit="tenant", quota=Quota(5, 10), remaining=0, reset_s=1.6,
        retry_after_s=0.2,
    )  # fmt: skip
    assert not decision.allowed
    assert dict(decision.headers()) == {
        b"ratelimit-limit": b"10",
        b"ratelimit-remaining": b"0",
        b"ratelimit-reset": b"2",
        b"retry-after": b"1",
    }


def test_an_allowed_request_has_no_retry_after() -> None:
    decision = Decision("allowed", limit="caller", quota=Quota(5, 10), remaining=7, reset_s=0.4)
    assert decision.allowed
    assert b"retry-after" not in dict(decision.headers())


@pytest.mark.parametrize(
    ("outcome", "allowed"),
    [("redis_unavailable_open", True), ("redis_unavailable_closed", False), ("disabled", True)],
)
def test_without_a_count_there_are_no_ratelimit_headers(outcome: str, allowed: bool) -> None:
    decision = Decision(outcome)  # type: ignore[arg-type]
    assert decision.allowed is allowed
    assert decision.headers() == []


def test_a_quota_interval_is_whole_microseconds() -> None:
    assert Quota(rate_rps=2000, burst=1).interval_us == 500
    assert Quota(rate_rps=3, burst=1).interval_us == 333_333
