"""Issue #5 through the real broker: scripted incidents of each pathway, shuffles and
duplicates, a SIGKILLed worker restarted mid-stream, and two workers sharing the partitions."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from pathways import events as ev
from tests.integration.pipeline import (
    Reader,
    Worker,
    ensure_topics,
    latest_intervals,
    produce_events,
    producer,
)
from tests.integration.scenarios import SCENE, Scenario, all_scenarios

pytestmark = pytest.mark.integration
WALL_S_PER_EVENT_MINUTE = 0.2  # 300x faster than real time


def _outputs(prefix: str) -> list[str]:
    names = ("pathwatch.intervals", "pathwatch.alerts", "pathwatch.prealerts",
             "pathwatch.deadletter")
    return [prefix + n for n in names]


def _minutes(reader: Reader, prefix: str) -> dict[tuple[str, str], float]:
    final = latest_intervals(reader.messages[prefix + "pathwatch.intervals"])
    return {
        key: round(body["seconds"] / 60, 2)
        for key, body in final.items()
        if "withdrawn" not in body.get("quality_flags", [])
    }


def _expected(scenarios: list[Scenario], with_gps: bool) -> dict[tuple[str, str], float]:
    out = {(s.incident_id, k): float(v) for s in scenarios for k, v in s.intervals.items()}
    if not with_gps:  # the STEMI door is inferred from GPS only
        out.pop(("stemi-1", "transport"))
        out.pop(("stemi-1", "door_to_balloon"))
    return out


def _start(kafka_bootstrap: str, prefix: str, tmp: Path, name: str) -> tuple[str, Reader]:
    ensure_topics(kafka_bootstrap, prefix)
    app_id = f"{name}-{uuid.uuid4().hex[:8]}"
    return app_id, Reader(kafka_bootstrap, _outputs(prefix))


def _wait_for(reader: Reader, prefix: str, want: dict[tuple[str, str], float],
              workers: list[Worker], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reader.poll(0.5)
        if _minutes(reader, prefix) == want:
            return
        for w in workers:
            assert w.alive(), w.log_text()[-3000:]
    got = _minutes(reader, prefix)
    missing = {k: v for k, v in want.items() if got.get(k) != v}
    extra = {k: v for k, v in got.items() if k not in want}
    raise AssertionError(f"final intervals differ: missing/wrong {missing}, extra {extra}")


def _without_gps(events: list[ev.Event]) -> list[ev.Event]:
    return [e for e in events if e.TYPE != "gps.fix"]


def test_scripted_incidents_of_each_pathway(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    scenarios = all_scenarios()
    app_id, reader = _start(kafka_bootstrap, topic_prefix, tmp_path, "scripted")
    # 300x is five times the 60x the default lateness is sized for: allow 5x as much
    worker = Worker(kafka_bootstrap, app_id, topic_prefix, tmp_path, extra=("--lateness", "30"))
    worker.start().wait_ready()
    prod = producer(kafka_bootstrap)
    try:
        timeline = sorted((e for s in scenarios for e in s.events), key=lambda e: e.ts)
        start, first = time.monotonic(), timeline[0].ts
        for e in timeline:  # paced: an accelerated replay, in event-time order
            due = start + (e.ts - first).total_seconds() / 60 * WALL_S_PER_EVENT_MINUTE
            time.sleep(max(0.0, due - time.monotonic()))
            produce_events(prod, topic_prefix, [e])
        _wait_for(reader, topic_prefix, _expected(scenarios, with_gps=True), [worker], 30)
        reader.until(lambda r: _prealerts_done(r, topic_prefix, scenarios), 15, worker)
        time.sleep(3)  # partitions go idle: the final sweep runs on the worker's watermark
        reader.poll(1.0)

        prealerts = [m.json() for m in reader.messages[topic_prefix + "pathwatch.prealerts"]]
        for s in scenarios:
            mine = [p for p in prealerts if p["incident_id"] == s.incident_id]
            _check_lifecycle(s, mine)
        stemi_new = next(p for p in prealerts if p["incident_id"] == "stemi-1")
        assert stemi_new["ed_bypass"] is True and "cathlab" in stemi_new["activations"]
        assert stemi_new["summary"]["ecg_stemi"] is True
        trauma_new = next(p for p in prealerts if p["incident_id"] == "trauma-1")
        assert trauma_new["summary"]["gcs"] == 9 and "trauma_team" in trauma_new["activations"]
        stroke_new = next(p for p in prealerts if p["incident_id"] == "stroke-1")
        assert stroke_new["summary"]["last_known_well"]

        alerts = [m.json() for m in reader.messages[topic_prefix + "pathwatch.alerts"]]
        for s in scenarios:
            mine = [a for a in alerts if a["incident_id"] == s.incident_id]
            got = {f"{a['kind']}:{a['interval']}" for a in mine}
            assert got == s.alerts, (s.incident_id, got)
        assert len({a["alert_id"] for a in alerts}) == len(alerts), "no alert twice"
        for m in reader.messages[topic_prefix + "pathwatch.prealerts"]:
            assert m.key == m.json()["hospital_id"].encode()  # keyed by hospital, as contracted
        assert reader.messages[topic_prefix + "pathwatch.deadletter"] == []
        log = worker.log_text()
        assert '"event":"prealert"' in log, "the log is structured and says what happened"
        for s in scenarios:  # no patient data in the logs: not even the incident ids
            assert s.incident_id not in log
        assert str(SCENE[0]) not in log and "motor_vehicle" not in log
    finally:
        prod.close()
        reader.close()
        worker.stop()


def _prealerts_done(reader: Reader, prefix: str, scenarios: list[Scenario]) -> bool:
    states = {(m.json()["incident_id"], m.json()["state"])
              for m in reader.messages[prefix + "pathwatch.prealerts"]}
    return all((s.incident_id, "arrived") in states for s in scenarios if s.prealerts)


def _check_lifecycle(s: Scenario, mine: list[dict[str, Any]]) -> None:
    if not s.prealerts:
        assert mine == [], s.incident_id
        return
    states = [(p["state"], p["hospital_id"]) for p in mine]
    assert states[0] == s.prealerts[0] and states[-1] == s.prealerts[-1], states
    assert {st for st, _ in states[1:-1]} <= {"update"}, states
    assert [p["sequence"] for p in mine] == list(range(1, len(mine) + 1)), "no duplicates"


def test_shuffled_and_duplicated_input_gives_same_final_intervals(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    scenarios = all_scenarios()
    app_id, reader = _start(kafka_bootstrap, topic_prefix, tmp_path, "shuffled")
    worker = Worker(kafka_bootstrap, app_id, topic_prefix, tmp_path).start()
    prod = producer(kafka_bootstrap)
    try:
        status = ev.HospitalStatus(event_id="status-h02", ts=scenarios[0].events[0].ts,
                                   source="his:H02", hospital_id="H02", diversion=False)
        events = [status, *_without_gps([e for s in scenarios for e in s.events])]
        rng = random.Random(11)
        stream = events + rng.sample(events, len(events) // 3)
        rng.shuffle(stream)
        produce_events(prod, topic_prefix, stream)
        _wait_for(reader, topic_prefix, _expected(scenarios, with_gps=False), [worker], 40)
        steps = [(p["prealert_id"], p["sequence"])
                 for p in (m.json() for m in reader.messages[topic_prefix + "pathwatch.prealerts"])]
        assert len(steps) == len(set(steps)), "duplicated input sends no pre-alert twice"
        alerts = [m.json()["alert_id"] for m in reader.messages[topic_prefix + "pathwatch.alerts"]]
        assert len(alerts) == len(set(alerts)), "nor an alert"
        assert reader.messages[topic_prefix + "pathwatch.deadletter"] == [], "valid input only"
    finally:
        prod.close()
        reader.close()
        worker.stop()


def test_sigkilled_worker_restarted_mid_stream_ends_with_same_intervals(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    scenarios = all_scenarios()
    app_id, reader = _start(kafka_bootstrap, topic_prefix, tmp_path, "killed")
    worker = Worker(kafka_bootstrap, app_id, topic_prefix, tmp_path).start()
    prod = producer(kafka_bootstrap)
    try:
        events = sorted(_without_gps([e for s in scenarios for e in s.events]),
                        key=lambda e: e.ts)
        half = len(events) // 2
        produce_events(prod, topic_prefix, events[:half])
        assert reader.until(
            lambda r: len(r.messages[topic_prefix + "pathwatch.intervals"]) >= 5, 30, worker
        ), "the worker made progress before the kill"
        worker.kill()
        produce_events(prod, topic_prefix, events[half:])
        restarted = Worker(kafka_bootstrap, app_id, topic_prefix, tmp_path).start()
        try:
            _wait_for(reader, topic_prefix, _expected(scenarios, with_gps=False), [restarted], 45)
        finally:
            restarted.stop()
        prealerts = [m.json() for m in reader.messages[topic_prefix + "pathwatch.prealerts"]]
        steps = [(p["prealert_id"], p["sequence"], p["state"]) for p in prealerts]
        # a redelivery after the kill may repeat a step, but never with other content
        assert len(set(steps)) == len({(pid, seq) for pid, seq, _ in steps})
    finally:
        prod.close()
        reader.close()
        worker.kill()


def _incident_messages(worker: Worker) -> int:
    """The last progress count of incident messages a worker logged (its JSON log lines)."""
    counts = [0]
    for line in worker.log_text().splitlines():
        if '"event":"progress"' in line:
            counts.append(int(orjson.loads(line)["incident_messages"]))
    return counts[-1]


def test_two_workers_split_partitions_and_agree_with_one(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    scenarios = all_scenarios()
    app_id, reader = _start(kafka_bootstrap, topic_prefix, tmp_path, "pair")
    first = Worker(kafka_bootstrap, app_id, topic_prefix, tmp_path).start()
    second = Worker(kafka_bootstrap, app_id, topic_prefix, tmp_path).start()
    prod = producer(kafka_bootstrap)
    try:
        time.sleep(8)  # both join the group before the events come
        events = sorted(_without_gps([e for s in scenarios for e in s.events]),
                        key=lambda e: e.ts)
        produce_events(prod, topic_prefix, events)
        _wait_for(reader, topic_prefix, _expected(scenarios, with_gps=False),
                  [first, second], 45)
        time.sleep(6)  # the workers log their progress every 5 s
        handled = [_incident_messages(w) for w in (first, second)]
        assert all(n > 0 for n in handled), f"each worker handles a share: {handled}"
    finally:
        prod.close()
        reader.close()
        first.stop()
        second.stop()


def test_live_mode_timer_sweeps_raise_approaching_then_breach(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """Wall clock: with no further input, the deadline sweep alone moves a STEMI whose door
    was 89 min 50 s ago from `approaching` to `breach` of door-to-balloon (90 min)."""
    app_id, reader = _start(kafka_bootstrap, topic_prefix, tmp_path, "live")
    worker = Worker(kafka_bootstrap, app_id, topic_prefix, tmp_path, clock="wall")
    worker.start().wait_ready()
    prod = producer(kafka_bootstrap)
    try:
        door = datetime.now(UTC) - timedelta(minutes=89, seconds=50)
        events = [
            ev.HospitalArrived(event_id="live-door", ts=door, source="his:H02",
                               incident_id="live-1", hospital_id="H02"),
            ev.EcgAcquired(event_id="live-ecg", ts=door + timedelta(minutes=5), source="ecg",
                           incident_id="live-1", setting="hospital", stemi=True),
        ]
        produce_events(prod, topic_prefix, events)
        name = topic_prefix + "pathwatch.alerts"

        def kinds(r: Reader) -> list[str]:
            return [m.json()["kind"] for m in r.messages[name]
                    if m.json().get("interval") == "door_to_balloon"]

        assert reader.until(lambda r: "breach" in kinds(r), 40, worker), kinds(reader)
        assert kinds(reader) == ["approaching", "breach"]
    finally:
        prod.close()
        reader.close()
        worker.stop()
