"""The embedded Kafka broker: lifecycle of its own instance, and the session broker at work."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from streams import topics
from streams.broker import Broker, BrokerError, free_ports, is_ready
from streams.settings import Settings


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.integration
def test_lifecycle_start_is_idempotent_and_stop_leaves_nothing(tmp_path: Path) -> None:
    port, controller_port = free_ports(2)
    broker = Broker(tmp_path / "broker", port, controller_port)
    assert not broker.status().running

    broker.start(timeout=120, tie_to_parent=True)
    try:
        status = broker.status()
        assert status.running and status.bootstrap == f"127.0.0.1:{port}"
        pid = status.pid
        assert pid is not None and broker.pid_file.read_text().strip() == str(pid)
        assert is_ready(broker.bootstrap)

        # a second start, also from another Broker object on the same folder, reuses it
        again = Broker(tmp_path / "broker", port, controller_port)
        started = time.monotonic()
        again.start(timeout=10)
        assert time.monotonic() - started < 5
        assert again.status().pid == pid

        # the same folder cannot be started on other ports while it runs
        with pytest.raises(BrokerError, match="already runs"):
            Broker(tmp_path / "broker", *free_ports(2)).start(timeout=10)
    finally:
        stopped = Broker(tmp_path / "broker", port, controller_port).stop()

    assert stopped
    assert not _pid_exists(pid)
    assert not broker.pid_file.exists()
    assert not broker.status().running
    assert not is_ready(broker.bootstrap)
    assert broker.stop() is False  # stopping again is harmless
    assert "Kafka Server started" in broker.log_file.read_text()


@pytest.mark.integration
def test_port_in_use_is_reported(tmp_path: Path, kafka_bootstrap: str) -> None:
    if os.environ.get("PATHWATCH_BOOTSTRAP"):
        pytest.skip("needs the embedded session broker's port")
    busy = int(kafka_bootstrap.rsplit(":", 1)[1])
    with pytest.raises(BrokerError, match=f"port {busy} .* in use"):
        Broker(tmp_path / "other", busy, free_ports(1)[0]).start(timeout=10)


def test_create_topics_is_idempotent(kafka_settings: Settings, topic_prefix: str) -> None:
    first = topics.create_topics(settings=kafka_settings, prefix=topic_prefix)
    assert [r.name for r in first] == [topic_prefix + name for name in topics.ALL_TOPICS]
    assert all(r.created and r.partitions == 6 for r in first)

    second = topics.create_topics(settings=kafka_settings, prefix=topic_prefix)
    assert [r.created for r in second] == [False] * len(topics.ALL_TOPICS)
    assert all(r.partitions == 6 for r in second)


def test_produce_and_consume_one_message(kafka_settings: Settings, kafka_topics: str) -> None:
    topic = kafka_topics + topics.CALLS
    value = b'{"event_id": "e-1", "type": "call.received"}'
    producer = KafkaProducer(**kafka_settings.kafka_client_kwargs(), acks="all")
    producer.send(topic, key=b"inc-1", value=value).get(timeout=30)
    producer.close()

    consumer = KafkaConsumer(
        topic,
        **kafka_settings.kafka_client_kwargs(),
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        consumer_timeout_ms=30_000,
    )
    try:
        record = next(iter(consumer))
    finally:
        consumer.close()
    assert (record.key, record.value) == (b"inc-1", value)


def test_one_megabyte_payload_is_accepted(kafka_settings: Settings, kafka_topics: str) -> None:
    """Oversized input must reach the worker (to be dead-lettered), and fit the dead letter."""
    payload = b"x" * (1024 * 1024 + 1)
    producer = KafkaProducer(
        **kafka_settings.kafka_client_kwargs(), max_request_size=topics.MAX_MESSAGE_BYTES
    )
    for name in (topics.CALLS, topics.DEADLETTER):
        metadata = producer.send(kafka_topics + name, value=payload).get(timeout=30)
        assert metadata.offset == 0
    producer.close()


def test_unknown_topics_are_not_auto_created(kafka_settings: Settings, topic_prefix: str) -> None:
    """A misspelt topic fails loudly instead of appearing with the wrong partition count."""
    from kafka.errors import KafkaTimeoutError

    if os.environ.get("PATHWATCH_BOOTSTRAP"):
        pytest.skip("a property of the embedded broker's configuration")

    producer = KafkaProducer(**kafka_settings.kafka_client_kwargs(), max_block_ms=2000)
    with pytest.raises(KafkaTimeoutError):
        producer.send(topic_prefix + "dispatch.typo", value=b"{}").get(timeout=5)
    producer.close()


@pytest.mark.integration
def test_cli_start_twice_status_topics_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.cli import main

    port, controller_port = free_ports(2)
    where = ["--dir", str(tmp_path / "broker")]
    start = ["broker", "start", *where, "--port", str(port), "--controller-port",
             str(controller_port)]
    try:
        assert main(start) == 0
        assert "started Kafka" in capsys.readouterr().out
        assert main(start) == 0
        assert "already running" in capsys.readouterr().out
        assert main(["broker", "status", *where]) == 0
        assert f"running: pid {Broker(tmp_path / 'broker').status().pid}" in capsys.readouterr().out
        assert main(["topics", "create", "--bootstrap", f"127.0.0.1:{port}"]) == 0
        assert "10 created, 10 in all" in capsys.readouterr().out
    finally:
        assert main(["broker", "stop", *where]) == 0
    assert "stopped pid" in capsys.readouterr().out
    assert main(["broker", "status", *where]) == 3
    assert "not running" in capsys.readouterr().out


def test_table_changelogs_are_created_compacted(kafka_settings: Settings, topic_prefix: str
                                                ) -> None:
    """The worker creates its tables' changelogs before Faust starts (see cli_worker)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    name = topics.changelog_topic(topic_prefix + "app", topics.UNIT_TABLE)
    (report,) = topics.create_topics(settings=kafka_settings, names=[name],
                                     config=topics.CHANGELOG_CONFIG)
    assert report.created and report.partitions == 6
    with topics.admin_client(kafka_settings) as admin:
        response = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    configs = next(iter(next(iter(response.values())).values()))
    assert configs["cleanup.policy"]["value"] == "compact", configs["cleanup.policy"]
