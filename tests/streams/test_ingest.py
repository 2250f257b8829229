"""Decoding at the edge and the dead-letter policy, without Kafka."""

from __future__ import annotations

import orjson
import pytest

from pathways.events import MAX_EVENT_BYTES, Reason
from streams.ingest import (
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_REASON,
    HEADER_TOPIC,
    DeadLetter,
    DeadLetterPolicy,
    DeadLetterRaised,
    OnError,
    Origin,
    decode,
    normalize_headers,
)

ORIGIN = Origin("dispatch.calls", 3, 41, b"inc-1", (("trace", b"abc"),))
GOOD = {
    "event_id": "e1", "type": "call.received", "ts": "2026-11-24T08:15:02.120+08:00",
    "source": "cad", "incident_id": "inc-1", "location": {"lat": 31.2, "lon": 121.4},
}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (orjson.dumps(GOOD)[:20], Reason.INVALID_JSON),
        (None, Reason.INVALID_JSON),
        (b"[]", Reason.NOT_AN_OBJECT),
        (orjson.dumps({**GOOD, "type": "unit.teleported"}), Reason.UNKNOWN_TYPE),
        (orjson.dumps({**GOOD, "ts": "2026-11-24T08:15:02"}), Reason.BAD_TIMESTAMP),
        (orjson.dumps({**GOOD, "triage_level": "1"}), Reason.SCHEMA),
        (orjson.dumps({k: v for k, v in GOOD.items() if k != "incident_id"}), Reason.SCHEMA),
        (orjson.dumps({**GOOD, "complaint": "x" * MAX_EVENT_BYTES}), Reason.TOO_LARGE),
    ],
)
def test_bad_messages_become_dead_letters_with_reason(raw: bytes | None, reason: Reason) -> None:
    outcome = decode(raw, ORIGIN)
    assert isinstance(outcome, DeadLetter)
    assert outcome.reason is reason
    assert outcome.raw == (raw or b"")
    headers = dict(outcome.headers)
    assert headers[HEADER_REASON] == reason.value.encode()
    assert headers[HEADER_TOPIC] == b"dispatch.calls"
    assert headers[HEADER_PARTITION] == b"3" and headers[HEADER_OFFSET] == b"41"
    assert headers["trace"] == b"abc", "the producer's own headers are kept"


def test_valid_message_decodes() -> None:
    outcome = decode(orjson.dumps(GOOD), ORIGIN)
    assert not isinstance(outcome, DeadLetter)
    assert outcome.event_id == "e1" and outcome.incident_id == "inc-1"


def test_policy_is_explicit() -> None:
    letter = decode(b"{", ORIGIN)
    assert isinstance(letter, DeadLetter)
    assert DeadLetterPolicy().wants_record(letter) is True
    assert DeadLetterPolicy(OnError.SKIP).wants_record(letter) is False
    with pytest.raises(DeadLetterRaised):
        DeadLetterPolicy(OnError.RAISE).wants_record(letter)


def test_spoofed_reason_headers_are_replaced() -> None:
    origin = Origin("dispatch.calls", 0, 1, None, ((HEADER_REASON, b"fake"),))
    letter = decode(b"{", origin)
    assert isinstance(letter, DeadLetter)
    assert [v for k, v in letter.headers if k == HEADER_REASON] == [b"invalid_json"]


def test_header_shapes_are_normalized() -> None:
    assert normalize_headers(None) == ()
    assert normalize_headers([(b"a", b"1"), ("b", "2")]) == (("a", b"1"), ("b", b"2"))
    assert normalize_headers({"c": b"3"}) == (("c", b"3"),)
