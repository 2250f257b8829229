"""Issue #2: 1,000 valid and 1,000 malformed messages through the real broker and worker."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from pathways import events as ev
from streams.broker import free_ports
from streams.ingest import HEADER_OFFSET, HEADER_PARTITION, HEADER_REASON, HEADER_TOPIC
from tests.integration.pipeline import Reader, Worker, ensure_topics, producer

pytestmark = pytest.mark.integration
CST = timezone(timedelta(hours=8))
BASE = datetime(2026, 11, 24, 8, 0, tzinfo=CST)


def _valid(i: int) -> ev.Event:
    incident, ts = f"inc-{i // 4}", BASE + timedelta(seconds=i)
    common: dict[str, Any] = {
        "event_id": f"ok-{i}", "ts": ts, "source": "cad", "incident_id": incident
    }
    match i % 4:
        case 0:
            return ev.CallReceived(**common, location=ev.Location(lat=31.23, lon=121.47))
        case 1:
            return ev.UnitAssigned(**common, unit_id=f"u-{i % 37}")
        case 2:
            return ev.EcgAcquired(**common, setting="prehospital", stemi=False)
        case _:
            return ev.GpsFix(event_id=f"ok-{i}", ts=ts, source="avl", unit_id=f"u-{i % 37}",
                             lat=31.2, lon=121.4)


def _good_json(i: int) -> dict[str, object]:
    return ev.to_json(ev.CallReceived(
        event_id=f"bad-{i}", ts=BASE, source="cad", incident_id=f"x-{i}",
        location=ev.Location(lat=31.2, lon=121.4)))


def _malformed(i: int) -> tuple[bytes | None, str]:
    """A broken message and the reason it must be dead-lettered with."""
    obj = _good_json(i)
    kinds = (
        [("truncated", 200), ("wrong_type", 200), ("naive_ts", 200), ("unknown_type", 150),
         ("missing_id", 150), ("huge", 10), ("not_object", 45), ("null", 45)]
    )
    slot, acc = i % 1000, 0
    kind = kinds[-1][0]
    for name, count in kinds:
        acc += count
        if slot < acc:
            kind = name
            break
    if kind == "truncated":
        raw = orjson.dumps(obj)
        return raw[: len(raw) // 2], "invalid_json"
    if kind == "wrong_type":
        return orjson.dumps({**obj, "triage_level": "1"}), "schema"
    if kind == "naive_ts":
        return orjson.dumps({**obj, "ts": "2026-11-24T08:00:00"}), "bad_timestamp"
    if kind == "unknown_type":
        return orjson.dumps({**obj, "type": "unit.teleported"}), "unknown_type"
    if kind == "missing_id":
        return orjson.dumps({k: v for k, v in obj.items() if k != "incident_id"}), "schema"
    if kind == "huge":
        return orjson.dumps({**obj, "complaint": "x" * (1024 * 1024)}), "too_large"
    if kind == "not_object":
        return b"[1, 2, 3]", "not_an_object"
    return None, "invalid_json"


def _metric_sum(worker: Worker, name: str, label: str) -> dict[str, float]:
    """A counter of the worker's /metrics, summed by one label."""
    sums: dict[str, float] = {}
    for line in worker.metrics().splitlines():
        if line.startswith(name + "{"):
            value = line.split(f'{label}="', 1)[1].split('"', 1)[0]
            sums[value] = sums.get(value, 0.0) + float(line.rsplit(" ", 1)[1])
    return sums


def _decoded(worker: Worker) -> float:
    """Valid input events the worker decoded (and handed to the side owning their state)."""
    return sum(_metric_sum(worker, "pathwatch_events_total", "topic").values())


def test_valid_decoded_malformed_deadlettered_worker_keeps_consuming(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    app_id = f"ingest-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, topic_prefix)
    worker = Worker(kafka_bootstrap, app_id, topic_prefix, tmp_path,
                    web_port=free_ports(1)[0]).start()
    dead = topic_prefix + "pathwatch.deadletter"
    reader = Reader(kafka_bootstrap, [dead])
    prod = producer(kafka_bootstrap)
    try:
        valid = [_valid(i) for i in range(1000)]
        bad = {f"bad-{i}": _malformed(i) for i in range(1000)}
        sends: list[tuple[str, bytes, bytes | None]] = []
        for event in valid:
            key_bytes = (event.incident_id or event.unit_id or "").encode()
            sends.append((ev.TOPIC_OF_TYPE[event.TYPE], key_bytes, ev.dumps(event)))
        inputs = ["dispatch.calls", "dispatch.units", "clinical.events", "hospital.events"]
        for n, (key, (raw, _)) in enumerate(bad.items()):
            sends.append((inputs[n % len(inputs)], key.encode(), raw))
        random.Random(7).shuffle(sends)
        sent_at: dict[str, str] = {}
        for topic, key_bytes, raw in sends:
            prod.send(topic_prefix + topic, key=key_bytes, value=raw)
            sent_at[key_bytes.decode()] = topic_prefix + topic
        prod.flush()

        per_topic: dict[str, float] = {}
        for event in valid:
            topic = ev.TOPIC_OF_TYPE[event.TYPE]
            per_topic[topic] = per_topic.get(topic, 0.0) + 1
        assert reader.until(
            lambda r: len(r.messages[dead]) >= 1000 and _decoded(worker) >= 1000,
            timeout=90, worker=worker,
        ), (len(reader.messages[dead]), _decoded(worker))
        # each valid event decoded exactly once, on its own topic
        assert _metric_sum(worker, "pathwatch_events_total", "topic") == per_topic

        letters = {m.key.decode(): m for m in reader.messages[dead] if m.key}
        assert set(letters) == set(bad), "every malformed message is dead-lettered exactly once"
        assert len(reader.messages[dead]) == 1000
        for key, (raw, reason) in bad.items():
            letter = letters[key]
            assert letter.headers[HEADER_REASON].decode() == reason, key
            assert letter.value == (raw or b""), key
            assert letter.headers[HEADER_TOPIC].decode() == sent_at[key]
            assert int(letter.headers[HEADER_PARTITION]) >= 0
            assert int(letter.headers[HEADER_OFFSET]) >= 0

        # the worker is still consuming: a later valid event is decoded
        later = ev.CallReceived(event_id="after-1", ts=BASE, source="cad", incident_id="late-1",
                                location=ev.Location(lat=31.2, lon=121.4))
        prod.send(topic_prefix + "dispatch.calls", key=b"late-1", value=ev.dumps(later))
        prod.flush()
        assert reader.until(lambda r: _decoded(worker) == 1001, timeout=30, worker=worker)
        assert worker.alive()

        # a counter per reason on the worker's /metrics
        counts = _metric_sum(worker, "pathwatch_deadletters_total", "reason")
        expected: dict[str, float] = {}
        for _, reason in bad.values():
            expected[reason] = expected.get(reason, 0.0) + 1
        assert counts == expected
    finally:
        prod.close()
        reader.close()
        worker.stop()
