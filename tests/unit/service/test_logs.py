"""JSON log lines: one object per line, the request's context, personal data masked."""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime

import httpx
import pytest

from service.logs import JsonFormatter, bind, format_ts, mask
from service.main import create_app
from service.settings import ObservabilitySettings, Settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe+x@example.org now", "mail ***@*** now"),
        ("call +44 20 7946 0958 today", "call *** today"),
        ("phone 555-123-4567", "phone ***"),
        ("erasing subject_id=abc-123 for t", "erasing subject_id=*** for t"),
        ('{"subject_id": "abc-123"}', '{"subject_id": "***"}'),
        ("127.0.0.1:43874 - GET /v1/search", "127.0.0.1:43874 - GET /v1/search"),
        ("took 1234567 us, version 12", "took 1234567 us, version 12"),
        ('"GET /v1/search?q=jane%40example.com HTTP/1.1"', '"GET /v1/search?q=***@*** HTTP/1.1"'),
        ("GET /v1/search?q=%2B44%2020%207946%200958", "GET /v1/search?q=***"),
        (
            "DELETE /v1/tenants/t/subjects/abc-123 HTTP/1.1",
            "DELETE /v1/tenants/t/subjects/*** HTTP/1.1",
        ),
    ],
    ids=[
        "email",
        "phone-intl",
        "phone-dashes",
        "subject-kv",
        "subject-json",
        "ip",
        "numbers",
        "email-in-url",
        "phone-in-url",
        "subject-in-path",
    ],
)
def test_personal_data_is_masked(text: str, expected: str) -> None:
    assert mask(text) == expected


def test_a_record_is_one_json_object_with_masked_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "service.x", "levelname": "INFO", "msg": "for %s", "args": ("a@b.io",)}
    )
    record.detail = {"subject_id": "s-1", "email": "x@y.org", "count": 2}
    doc = json.loads(JsonFormatter().format(record))
    assert doc["msg"] == "for ***@***"
    assert doc["detail"] == {"subject_id": "***", "email": "***@***", "count": 2}
    assert doc["level"] == "info" and doc["logger"] == "service.x"


async def test_the_request_id_is_echoed_and_logged_with_the_tenant(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(Settings.from_env())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    caplog.set_level(logging.INFO, logger="service.access")
    formatter = JsonFormatter()
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record))

    handler = Capture()
    logging.getLogger("service.access").addHandler(handler)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            response = await client.get("/v1/nope", headers={"X-Request-ID": "abc-123"})
            generated = (await client.get("/v1/nope")).headers["x-request-id"]
    finally:
        logging.getLogger("service.access").removeHandler(handler)
    assert response.headers["x-request-id"] == "abc-123"
    assert len(generated) == 32 and generated != "abc-123"
    docs = [json.loads(line) for line in lines]
    assert docs[0]["request_id"] == "abc-123"
    assert docs[0]["status"] == 404 and docs[0]["route"] == "unmatched"
    assert docs[1]["request_id"] == generated


def test_bind_outside_a_request_does_nothing() -> None:
    bind(tenant="t")  # no context: no error, nothing kept


@pytest.mark.parametrize(
    "created",
    [0.0, 1.0005, 1_790_000_000.9994999, 1_790_000_000.9999996, 1_790_000_059.999, 1e9 + 0.5],
    ids=["epoch", "half-ms", "below-ms", "rounds-up-to-next-second", "minute-edge", "half"],
)
def test_the_timestamp_is_the_same_text_as_datetimes(created: float) -> None:
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert format_ts(created) == expected


def test_timestamps_of_many_instants_match_datetimes() -> None:
    rng = random.Random(3)
    base = 1_790_000_000.0
    for _ in range(5000):  # sorted and unsorted: the cached second must never leak
        created = base + rng.uniform(-5, 5)
        assert format_ts(created) == datetime.fromtimestamp(created, UTC).isoformat(
            timespec="milliseconds"
        )


async def _access_lines(settings: Settings, paths: list[str]) -> list[dict[str, object]]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    formatter = JsonFormatter()
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record))  # inside the request: its context

    handler = Capture()
    logger = logging.getLogger("service.access")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            for path in paths:
                await client.get(path)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    return [json.loads(line) for line in lines]


async def test_sampled_out_requests_still_log_their_errors() -> None:
    settings = Settings.from_env()
    settings.logging = ObservabilitySettings(access_sample=0.0, access_slow_ms=60_000)
    docs = await _access_lines(settings, ["/openapi.json", "/v1/nope", "/openapi.json"])
    assert [d["status"] for d in docs] == [404]


async def test_slow_requests_are_always_logged() -> None:
    settings = Settings.from_env()
    settings.logging = ObservabilitySettings(access_sample=0.0, access_slow_ms=0)
    docs = await _access_lines(settings, ["/openapi.json", "/v1/nope"])
    assert [d["status"] for d in docs] == [200, 404]


async def test_by_default_every_request_is_logged() -> None:
    docs = await _access_lines(Settings.from_env(), ["/openapi.json"] * 3)
    assert [d["status"] for d in docs] == [200, 200, 200]
    assert all(d["method"] == "GET" and d["synthetic"] is False for d in docs)
