"""Where generated or imported messages go: a `.jsonl` file or Kafka topics.

Sinks take raw bytes plus routing (topic, key), so the fault injectors can send
messages that are deliberately not valid events down the same path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from pathways.events import TOPIC_OF_TYPE, Event, dumps

FALLBACK_TOPIC = "dispatch.calls"


@dataclass(frozen=True, slots=True)
class Message:
    """One message on its way out: value bytes, the topic and the partition key."""

    topic: str
    key: str | None
    value: bytes


def partition_key(event: Event) -> str | None:
    """The contract's key: unit and GPS by unit, hospital status by hospital, else incident."""
    if event.type.startswith("unit.") or event.type == "gps.fix":
        return event.unit_id
    if event.type == "hospital.status":
        return event.hospital_id
    return event.incident_id


def message_of(event: Event) -> Message:
    return Message(TOPIC_OF_TYPE[event.type], partition_key(event), dumps(event))


def messages_of(events: Iterable[Event]) -> Iterable[Message]:
    return (message_of(e) for e in events)


class SinkError(RuntimeError):
    """The destination cannot take messages (broker unreachable, disk full...)."""


class Sink(Protocol):
    def send(self, message: Message) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """One message value per line, in send order (topic and key are implied by the type)."""

    def __init__(self, path: str | Path) -> None:
        try:
            self._handle: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise SinkError(f"cannot write {path}: {exc}") from None
        self.sent = 0

    def send(self, message: Message) -> None:
        self._handle.write(message.value.replace(b"\n", b" ") + b"\n")
        self.sent += 1

    def close(self) -> None:
        self._handle.close()


class KafkaSink:
    """kafka-python producer; `acks=all` so a finished import is on the broker."""

    def __init__(self, topic_prefix: str = "", **client_kwargs: Any) -> None:
        """`client_kwargs`: bootstrap_servers, security settings (Settings.kafka_client_kwargs).

        `topic_prefix` is prepended to every topic, as the worker's `--topic-prefix`.
        """
        self.topic_prefix = topic_prefix
        from kafka import KafkaProducer  # imported here: file output needs no Kafka client
        from kafka.errors import KafkaError

        self._errors: tuple[type[Exception], ...] = (KafkaError,)
        servers = client_kwargs.get("bootstrap_servers")
        try:
            self._producer = KafkaProducer(
                acks="all",
                linger_ms=5,
                **client_kwargs,
            )
        except KafkaError as exc:
            raise SinkError(f"cannot connect to Kafka at {servers}: {exc}") from None
        self.sent = 0

    def send(self, message: Message) -> None:
        try:
            key = message.key.encode() if message.key is not None else None
            self._producer.send(self.topic_prefix + message.topic, key=key, value=message.value)
        except self._errors as exc:
            raise SinkError(f"Kafka refused a message for {message.topic}: {exc}") from None
        self.sent += 1

    def close(self) -> None:
        try:
            self._producer.flush()
        except self._errors as exc:
            raise SinkError(f"Kafka did not confirm every message: {exc}") from None
        finally:
            self._producer.close()



def deliver(messages: Iterable[Message], sink: Sink) -> int:
    """Send every message, then close (flush) the sink; returns how many were sent."""
    sent = 0
    try:
        for message in messages:
            sink.send(message)
            sent += 1
    except BaseException:
        with contextlib.suppress(SinkError):
            sink.close()
        raise
    sink.close()
    return sent
