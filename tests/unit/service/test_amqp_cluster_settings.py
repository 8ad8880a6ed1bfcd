"""The service on a RabbitMQ cluster (issue 19): every broker's URL, the password put
into each, quorum queues only when asked for (a queue's type is fixed once declared), and
a missing confirm that counts against the breaker only once every broker missed one."""

from __future__ import annotations

import asyncio

import pytest

from service.deps.guards import rabbitmq_failure, rabbitmq_moved_on
from service.deps.rabbitmq import BrokerMovedOn, Publisher
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


class _SilentBrokers:
    """Brokers that take publishes and never confirm: the connection moves on each time."""

    def __init__(self) -> None:
        self.moves = 0
        self.is_closed = False

    async def move_on(self) -> None:
        self.moves += 1

    async def publish(self, message: object, routing_key: str) -> None:
        await asyncio.Event().wait()


@pytest.mark.parametrize("brokers", [1, 3])
async def test_no_confirm_counts_as_a_failure_once_every_broker_missed_in_a_row(
    brokers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until then it is BrokerMovedOn, which the relay's breaker ignores: one node cut from
    its cluster (or a queue leader moving) must not open it for its whole open period."""
    urls = ",".join(f"amqp://gameday:x@127.0.0.1:{22672 + i}/" for i in range(brokers))
    monkeypatch.setenv("SERVICE_AMQP_URLS", urls)
    connection = _SilentBrokers()
    publisher = Publisher(connection, AmqpSettings(publish_timeout_s=0.01))
    publisher._exchange = connection  # started: its exchange is the silent broker
    raised = []
    for _ in range(2 * brokers):
        with pytest.raises((BrokerMovedOn, TimeoutError)) as caught:
            await publisher.publish_many([{"id": "1"}])
        raised.append(caught.type.__name__)
    expected = (["BrokerMovedOn"] * (brokers - 1) + ["TimeoutError"]) * 2
    assert raised == expected
    assert connection.moves == 2 * brokers
    assert not rabbitmq_failure(BrokerMovedOn("x")) and rabbitmq_moved_on(BrokerMovedOn("x"))
