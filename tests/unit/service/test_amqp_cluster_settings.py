"""The service on a RabbitMQ cluster (issue 19): every broker's URL, the password put
into each, and quorum queues only when asked for (a queue's type is fixed once declared)."""

from __future__ import annotations

import pytest

from service.indexer.bulk import SUPERSEDED, Outcome, classify_item
from service.settings import AmqpSettings

BROKERS = "amqp://gameday:x@127.0.0.1:22672/,amqp://gameday:x@127.0.0.1:22673/"


def test_without_a_list_the_single_url_is_every_broker() -> None:
    settings = AmqpSettings(url="amqp://gameday:gameday@127.0.0.1:22672/")
    assert settings.all_urls == ["amqp://gameday:gameday@127.0.0.1:22672/"]


def test_a_list_of_brokers_is_kept_in_order_with_the_password_put_in_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SERVICE_AMQP_URLS", BROKERS)
    monkeypatch.setenv("SERVICE_AMQP_PASSWORD", "s3cret")
    assert AmqpSettings().all_urls == [
        "amqp://gameday:s3cret@127.0.0.1:22672/",
        "amqp://gameday:s3cret@127.0.0.1:22673/",
    ]


def test_queues_are_classic_unless_quorum_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    assert AmqpSettings().queue_arguments == {}
    monkeypatch.setenv("SERVICE_AMQP_QUEUE_TYPE", "quorum")
    assert AmqpSettings().queue_arguments == {"x-queue-type": "quorum"}


def test_an_unknown_queue_type_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_AMQP_QUEUE_TYPE", "stream")
    with pytest.raises(ValueError, match="queue_type"):
        AmqpSettings()


def test_a_version_conflict_is_done_and_named_superseded() -> None:
    item = {"index": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}}
    assert classify_item(item) == (Outcome.DONE, SUPERSEDED)
