"""Decode input messages at the edge and route failures by one explicit policy.

Faust sees raw bytes only (a value that fails Faust's own decoding would crash the agent
and be skipped silently); `decode` turns bytes into a contract event or a `DeadLetter`,
and `DeadLetterPolicy` says what happens to the latter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pathways.events import Event, ParseError, Reason, parse

HEADER_REASON = "pathwatch.reason"
HEADER_DETAIL = "pathwatch.detail"
HEADER_TOPIC = "pathwatch.topic"
HEADER_PARTITION = "pathwatch.partition"
HEADER_OFFSET = "pathwatch.offset"
MAX_DETAIL_CHARS = 300

Headers = tuple[tuple[str, bytes], ...]


class OnError(StrEnum):
    DEAD_LETTER = "dead_letter"  # keep the message in the dead-letter topic and go on
    SKIP = "skip"  # count it and go on (for replays of data already dead-lettered once)
    RAISE = "raise"  # stop the worker (only for debugging a producer)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a message was read: the coordinates the dead-letter headers name."""

    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    headers: Headers = ()
    timestamp: datetime | None = None  # when the message reached Kafka (its record timestamp)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that is not a valid contract event, with everything needed to find and fix it."""

    reason: Reason
    detail: str
    origin: Origin
    raw: bytes

    @property
    def headers(self) -> Headers:
        ours = (
            (HEADER_REASON, str(self.reason).encode()),
            (HEADER_DETAIL, self.detail[:MAX_DETAIL_CHARS].encode("utf-8", "replace")),
            (HEADER_TOPIC, self.origin.topic.encode()),
            (HEADER_PARTITION, str(self.origin.partition).encode()),
            (HEADER_OFFSET, str(self.origin.offset).encode()),
        )
        kept = tuple(h for h in self.origin.headers if not h[0].startswith("pathwatch."))
        return kept + ours


class DeadLetterRaised(Exception):
    """Raised under `OnError.RAISE`."""

    def __init__(self, letter: DeadLetter) -> None:
        super().__init__(f"{letter.reason}: {letter.detail}")
        self.letter = letter


@dataclass(frozen=True, slots=True)
class DeadLetterPolicy:
    on_error: OnError = OnError.DEAD_LETTER
    # a type that is valid but expected on another topic is kept, not silently re-routed
    check_topic: bool = field(default=False)

    def wants_record(self, letter: DeadLetter) -> bool:
        """True when the letter must be written to the dead-letter topic."""
        if self.on_error is OnError.RAISE:
            raise DeadLetterRaised(letter)
        return self.on_error is OnError.DEAD_LETTER


def decode(raw: bytes | None, origin: Origin) -> Event | DeadLetter:
    """The contract event in `raw`, or a dead letter naming why it is not one; never raises."""
    if raw is None:  # a tombstone has no event in it
        return DeadLetter(Reason.INVALID_JSON, "empty message (null value)", origin, b"")
    outcome = parse(raw)
    if isinstance(outcome, ParseError):
        return DeadLetter(outcome.reason, outcome.detail, origin, raw)
    return outcome


def normalize_headers(headers: object) -> Headers:
    """Kafka headers as (str, bytes) pairs, whatever shape the client handed over."""
    if not headers:
        return ()
    items: Sequence[tuple[object, object]] = (
        list(headers.items()) if isinstance(headers, dict) else list(headers)  # type: ignore[call-overload]
    )
    out: list[tuple[str, bytes]] = []
    for name, value in items:
        key = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
        body = value if isinstance(value, bytes) else str(value).encode()
        out.append((key, body))
    return tuple(out)
