"""The screens of a real worker on the real broker, in headless Chromium.

Events go to Kafka with live timestamps; the worker computes intervals and pre-alerts and its
web server shows them: a unit moving on the wall map, an incident clock counting, and a
pre-alert on the ED board within 2 seconds of the worker producing it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pathways import events as ev
from streams import topics as names
from tests.e2e.pages import wait_until

VIEWPORT = {"width": 1920, "height": 1080}
SCENE = (30.9517, 117.0495)  # inside urban district D01


class Stack:
    def __init__(self, settings: Any, prefix: str, port: int, tokens: Any) -> None:
        self.settings, self.prefix, self.port, self.tokens = settings, prefix, port, tokens
        self.url = f"http://127.0.0.1:{port}"
        self.producer = KafkaProducer(**settings.kafka_client_kwargs())
        self._ids = iter(range(10**6))

    def send(self, type_: str, at: datetime, key: str, **fields: Any) -> None:
        obj = {
            "event_id": f"e2e-{next(self._ids)}",
            "type": type_,
            "ts": ev.format_timestamp(at),
            "source": "e2e",
            **fields,
        }
        parsed = ev.parse(orjson.dumps(obj))
        assert not isinstance(parsed, ev.ParseError), parsed
        topic = self.prefix + ev.TOPIC_OF_TYPE[type_]
        self.producer.send(topic, key=key.encode(), value=ev.dumps(parsed))
        self.producer.flush()


@pytest.fixture
def stack(
    kafka_settings: Any, kafka_topics: str, worker_screens: str, tokens: Any
) -> Iterator[Stack]:
    port = int(worker_screens.rsplit(":", 1)[1])
    stack = Stack(kafka_settings, kafka_topics, port, tokens)
    yield stack
    stack.producer.close()


def signed_in(browser: Any, stack: Stack, token: str, path: str) -> Any:
    context = browser.new_context(viewport=VIEWPORT)
    context.add_cookies([{"name": "pathwatch_token", "value": token, "url": stack.url}])
    page = context.new_page()
    page.goto(stack.url + path)
    return page


def prealert_consumer(stack: Stack) -> KafkaConsumer:
    consumer = KafkaConsumer(**stack.settings.kafka_client_kwargs(), enable_auto_commit=False)
    topic = stack.prefix + names.PREALERTS
    parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(parts)
    consumer.seek_to_end(*parts)
    for tp in parts:
        consumer.position(tp)  # resolve the end offsets now, before anything is produced
    return consumer


def test_live_worker_screens(browser: Any, stack: Stack, artifacts: Path) -> None:
    now = datetime.now(UTC)
    incident, unit = "E2E-1", "E2E-A1"
    location = {"lat": SCENE[0], "lon": SCENE[1]}
    stack.send(
        "call.received",
        now - timedelta(minutes=12),
        incident,
        incident_id=incident,
        location=location,
        triage_level=1,
        pathway_hint="chest_pain",
    )
    stack.send(
        "call.received",
        now - timedelta(seconds=20),
        "E2E-2",
        incident_id="E2E-2",
        location=location,
        triage_level=2,
        pathway_hint="stroke",
    )
    for offset_min, type_ in ((11.5, "unit.assigned"), (11, "unit.enroute"), (4, "unit.on_scene")):
        stack.send(
            type_, now - timedelta(minutes=offset_min), unit, incident_id=incident, unit_id=unit
        )
    stack.send(
        "ecg.acquired",
        now - timedelta(minutes=2),
        incident,
        incident_id=incident,
        setting="prehospital",
        stemi=True,
    )
    stack.send("gps.fix", now, unit, unit_id=unit, lat=SCENE[0], lon=SCENE[1])

    wall = signed_in(browser, stack, stack.tokens.wall, "/")
    wall.wait_for_selector(f'#map g.unit[data-unit-id="{unit}"]', timeout=15000)
    wall.wait_for_selector('tr[data-incident-id="E2E-2"] td.since', timeout=15000)
    since = wall.locator('tr[data-incident-id="E2E-2"] td.since')
    first_since = since.text_content()
    x0 = float(wall.locator(f'#map g.unit[data-unit-id="{unit}"]').get_attribute("data-x"))

    board = signed_in(browser, stack, stack.tokens.hospitals["H01"], "/hospitals/H01")
    wait_until(board, "document.querySelector('#feed').textContent === 'LIVE'")
    board.evaluate("""() => {
        window.cardSeenAt = null;
        new MutationObserver(() => {
            if (!window.cardSeenAt && document.querySelector('.card')) {
                window.cardSeenAt = Date.now();
            }
        }).observe(document.getElementById('incoming'), {childList: true, subtree: true});
    }""")
    consumer = prealert_consumer(stack)
    left = datetime.now(UTC)
    stack.send(
        "unit.left_scene",
        left,
        unit,
        incident_id=incident,
        unit_id=unit,
        destination_hospital_id="H01",
    )
    for step in range(1, 7):  # the ambulance drives east towards H01
        stack.send(
            "gps.fix",
            left + timedelta(seconds=step),
            unit,
            unit_id=unit,
            lat=SCENE[0],
            lon=SCENE[1] + 0.001 * step,
        )
        time.sleep(0.5)

    produced = _first_prealert(consumer, incident, timeout=30)
    wait_until(board, "window.cardSeenAt !== null", timeout_ms=10000)
    latency_s = board.evaluate("window.cardSeenAt") / 1000 - produced["timestamp_s"]
    assert produced["value"]["state"] == "new" and produced["value"]["hospital_id"] == "H01"
    print(f"\npre-alert on the ED board {latency_s * 1000:.0f} ms after the worker produced it")
    assert latency_s < 2.0, f"pre-alert shown {latency_s:.2f}s after it was produced"
    card = board.locator(".card").first
    assert "ECG: STEMI" in card.text_content()
    board.wait_for_timeout(1500)
    board.screenshot(path=str(artifacts / "live-ed-board.png"))

    card.locator("button.ack").click()
    card.locator(".acked-label").wait_for(timeout=5000)
    wall.locator(f'tr[data-incident-id="{incident}"] .chip', has_text="ACK H01").wait_for(
        timeout=10000
    )

    wait_until(
        wall, f"(x) => parseFloat(document.querySelector('#map g.unit[data-unit-id=\"{unit}\"]')"
        ".dataset.x) > x",
        arg=x0,
        timeout_ms=10000,
    )
    assert since.text_content() != first_since
    wall.wait_for_timeout(1200)
    wall.screenshot(path=str(artifacts / "live-wall-display.png"))
    consumer.close()


def _first_prealert(consumer: KafkaConsumer, incident: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            for record in records:
                value = orjson.loads(record.value)
                if value.get("incident_id") == incident:
                    return {"value": value, "timestamp_s": record.timestamp / 1000}
    raise AssertionError("the worker produced no pre-alert")
