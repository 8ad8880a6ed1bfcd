"""Schemathesis against the live service's OpenAPI, as two tenants with valid tokens
(one admin, one user): generated requests for every operation, and none may answer
5xx or a body that breaks the declared schema.

The example count per operation is bounded for CI (``GAMEDAY_FUZZ_EXAMPLES``, default
25: about a thousand requests in all); ``make fuzz`` runs the long version.
"""

from __future__ import annotations

import os
import sys

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from service_helpers import ServiceUnderTest

from service.main import create_app

# Drawing a bulk body nests deep in hypothesis; when its filter repr then parses a source
# file, CPython 3.11's ast can fail with "AST constructor recursion depth mismatch" (a
# SystemError in the generator, not in the service). Headroom avoids it.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

EXAMPLES = int(os.environ.get("GAMEDAY_FUZZ_EXAMPLES", "25"))
# Two tenants, two roles: admin routes are reached (admin) and refused (user).
IDENTITIES = {"admin": ("fuzz-tenant-a", "admin"), "user": ("fuzz-tenant-b", "user")}


# The schema comes from the same code the running service serves; loaded at import
# because schemathesis's lazy fixture loader does not work with pytest 9.
schema = schemathesis.openapi.from_dict(create_app().openapi())


@pytest.fixture(scope="module", autouse=True)
def warm_search_engine(service_under_test: ServiceUnderTest) -> None:
    """A fresh index's first searches can take longer than the 800 ms search timeout on a
    busy 2-core machine (a 503 that says nothing about the input); warm it once."""
    for tenant, role in IDENTITIES.values():
        with service_under_test.client(tenant, role) as client:
            for _ in range(3):
                client.get("/v1/search", params={"q": "warm up"})
                client.get("/v1/autocomplete", params={"prefix": "wa"})


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same requests on every run: a failure reproduces
)


def _call(case: schemathesis.Case, sut: ServiceUnderTest, identity: str) -> None:
    tenant, role = IDENTITIES[identity]
    case.call_and_validate(
        base_url=sut.url,
        headers={
            "Authorization": f"Bearer {sut.token(tenant, role)}",
            "X-Synthetic": "gameday-fuzz",
        },
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
        timeout=15,
    )


# schemathesis parametrizes by operation and cannot be combined with another
# parametrize, hence one test per identity.
@schema.parametrize()
@FUZZ_SETTINGS
def test_admin_gets_no_5xx_and_no_schema_violations(
    case: schemathesis.Case, service_under_test: ServiceUnderTest
) -> None:
    _call(case, service_under_test, "admin")


@schema.parametrize()
@FUZZ_SETTINGS
def test_user_gets_no_5xx_and_no_schema_violations(
    case: schemathesis.Case, service_under_test: ServiceUnderTest
) -> None:
    _call(case, service_under_test, "user")
