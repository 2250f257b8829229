"""A failure while processing a valid message is kept and counted, never a crashed agent."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pathways.events import Reason
from streams.agents import _Guard
from streams.ingest import HEADER_REASON, HEADER_TOPIC
from streams.sinks import ListSink
from tests.streams.harness import Recorder


@dataclass
class _Message:
    topic: str = "p.app-incident-feed"
    partition: int = 2
    offset: int = 9
    key: bytes = b"inc-1"
    value: bytes = b'{"kind": "tick", "partition": 2}'
    headers: tuple[tuple[str, bytes], ...] = ()


async def _boom() -> None:
    raise KeyError("inc-1 secret detail")


def test_failure_is_dead_lettered_and_counted() -> None:
    sink, telemetry = ListSink(), Recorder()
    guard = _Guard(sink, telemetry, "p.")
    asyncio.run(guard.run(_Message(), _boom()))
    (letter,) = sink.deadletters
    headers = dict(letter.headers)
    assert headers[HEADER_REASON] == Reason.PROCESSING_ERROR.encode()
    assert headers[HEADER_TOPIC] == b"p.app-incident-feed"
    assert letter.raw == _Message.value
    assert "secret" not in letter.detail, "exception values (maybe patient data) stay out"
    assert telemetry.deadletters == {Reason.PROCESSING_ERROR: 1}


def test_success_passes_through() -> None:
    sink, telemetry = ListSink(), Recorder()

    async def fine() -> None:
        return None

    asyncio.run(_Guard(sink, telemetry, "p.").run(_Message(), fine()))
    assert sink.deadletters == [] and telemetry.deadletters == {}
