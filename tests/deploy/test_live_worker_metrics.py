"""A running worker's /metrics after a simulated hour: every histogram, counter and gauge of
issue #7 is there, and so is every metric the dashboards and alerting rules use."""

from __future__ import annotations

import importlib.util
import random
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from geo.regions import load_region
from pathways import events as ev
from simulators import faults
from simulators.city import generate
from simulators.scenario import Scenario
from simulators.sinks import KafkaSink, deliver, message_of

_here = Path(__file__).with_name("test_metric_names.py")
_spec = importlib.util.spec_from_file_location("metric_names_live", _here)
assert _spec and _spec.loader
names_module: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(names_module)


def simulated_hour(settings: Any, prefix: str) -> tuple[int, set[str]]:
    """Deliver a simulated hour (with duplicates and malformed messages); (messages, the
    incident and unit identifiers in it)."""
    start = datetime.now(UTC) - timedelta(hours=1)
    events = list(
        generate(
            load_region(),
            Scenario(calls_per_hour=40),
            7,
            start,
            timedelta(hours=1),
            finish_incidents=True,
        )
    )
    ids = {i for e in events for i in (e.incident_id, e.unit_id) if i}
    stream = faults.outgoing(events)
    stream = faults.duplicates(stream, 0.02, random.Random(1))
    stream = faults.malformed(stream, 0.01, random.Random(2))
    sink = KafkaSink(topic_prefix=prefix, **settings.kafka_client_kwargs())
    try:
        return deliver((item.message for item in stream), sink), ids
    finally:
        sink.close()


def live_stemi(settings: Any, prefix: str) -> None:
    """A STEMI patient leaving the scene now: the replayed hour lies in the past, and the
    engine pre-alerts only transports still under way."""
    now = datetime.now(UTC)
    here = {"lat": 30.9517, "lon": 117.0495}
    steps: list[tuple[str, float, dict[str, Any]]] = [
        (
            "call.received",
            -600,
            {"location": here, "triage_level": 1, "pathway_hint": "chest_pain"},
        ),
        ("unit.assigned", -580, {"unit_id": "LIVE-1"}),
        ("unit.enroute", -560, {"unit_id": "LIVE-1"}),
        ("unit.on_scene", -300, {"unit_id": "LIVE-1"}),
        ("ecg.acquired", -200, {"setting": "prehospital", "stemi": True}),
        ("unit.left_scene", 0, {"unit_id": "LIVE-1", "destination_hospital_id": "H01"}),
    ]
    sink = KafkaSink(topic_prefix=prefix, **settings.kafka_client_kwargs())
    try:
        for n, (kind, offset_s, fields) in enumerate(steps):
            value = {
                "event_id": f"live-{n}",
                "type": kind,
                "source": "test",
                "ts": ev.format_timestamp(now + timedelta(seconds=offset_s)),
                "incident_id": "LIVE-STEMI",
                **fields,
            }
            parsed = ev.parse(orjson.dumps(value))
            assert not isinstance(parsed, ev.ParseError), parsed
            sink.send(message_of(parsed))
    finally:
        sink.close()


def samples(text: str) -> dict[str, list[str]]:
    """Sample name -> its label sets, from the text exposition."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s", line)
            assert match, line
            out.setdefault(match.group(1), []).append(match.group(2) or "")
    return out


def test_metrics_of_a_running_worker_after_a_simulated_hour(
    worker_url: str, kafka_settings: Any, kafka_topics: str, root: Path
) -> None:
    sent, identifiers = simulated_hour(kafka_settings, kafka_topics)
    assert sent > 500
    live_stemi(kafka_settings, kafka_topics)
    deadline = time.monotonic() + 90
    seen: dict[str, list[str]] = {}
    wanted_prealerts = 'state="new"'
    while time.monotonic() < deadline:
        seen = samples(names_module_scrape(worker_url))
        prealerts = seen.get("pathwatch_prealerts_total", [])
        if any(wanted_prealerts in labels for labels in prealerts) and (
            "pathwatch_deadletters_total" in seen
        ) and "faust_topic_partition_offset_commited" in seen:  # after the first commit
            break
        time.sleep(1)

    def has(name: str, *fragments: str) -> bool:
        return any(all(f in labels for f in fragments) for labels in seen.get(name, []))

    for interval in ("call_to_departure", "response", "turnout", "travel", "on_scene"):
        assert has("pathwatch_interval_seconds_bucket", f'interval="{interval}"'), interval
    assert has("pathwatch_alerts_total", 'kind="approaching"') or has(
        "pathwatch_alerts_total", 'kind="breach"'
    )
    assert has("pathwatch_prealerts_total", 'state="new"')
    assert has("pathwatch_deadletters_total", "reason=")
    assert has("pathwatch_events_total", 'topic="dispatch.gps"')
    assert has("pathwatch_event_lag_seconds", 'topic="dispatch.calls"')
    assert has("pathwatch_compliance_within_target_ratio", 'period="month"')
    assert has("pathwatch_units", 'status="available"')
    assert has("pathwatch_open_incidents", 'state="awaiting_unit"')
    assert has("faust_messages_received_total")
    for where, expr in names_module._all_exprs(root):
        for name in names_module.metric_names(expr):
            # `up` is Prometheus's own; Faust's per-partition offsets appear with a consumer
            assert name == "up" or name in seen, f"{where}: {name} not exported"
    labels = " ".join(" ".join(v) for v in samples(names_module_scrape(worker_url)).values())
    leaked = {i for i in identifiers | {"LIVE-STEMI", "LIVE-1"} if f'"{i}"' in labels}
    assert not leaked, f"identifiers in metric labels: {sorted(leaked)[:5]}"


def names_module_scrape(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text: str = response.read().decode()
    return text
