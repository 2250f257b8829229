"""A live (wall-clock) worker started on a backlog raises no breach that did not happen.

After a restart or an outage, calls are read ahead of the unit events that close their
intervals (those travel through the unit side): sweeping then would flag departures that were
in fact within target. Every breach must match an interval that really missed its target (or
never closed), as the offline replay of the same events says.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from geo.regions import load_region
from pathways.engine import Engine
from pathways.events import dumps
from pathways.replay import replay
from pathways.rulepack import load_pack
from simulators.city import generate
from simulators.scenario import load_scenario
from tests.integration.pipeline import (
    Reader,
    Worker,
    ensure_topics,
    produce_events,
    producer,
)
from tests.reliability.harness import record_figures


def test_no_false_breach_when_a_live_worker_catches_up(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    region = load_region()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    # a flat day: with the default day/night profile these two hours held 81-95 intervals when
    # the test ran between 18:00 and 02:00 UTC (night in the region), under the 100 it needs
    # (CI failed so at 18:24 UTC); flat, the stream is the same at any hour (189 intervals)
    scenario = replace(load_scenario(None), hourly_profile=(1.0,) * 24)
    events = list(generate(region, scenario, 11, start, timedelta(hours=2), True))
    events = [e for e in events if e.ts < datetime.now(UTC)]
    records, offline_alerts, _, _ = replay((dumps(e) for e in events),
                              Engine(load_pack("cn"), locate=region.locate))
    final = {(r.incident_id, r.interval): r for r in records}  # records come in revision order
    ensure_topics(kafka_bootstrap, topic_prefix)
    with producer(kafka_bootstrap) as prod:
        produce_events(prod, topic_prefix, events)

    worker = Worker(kafka_bootstrap, f"catchup-{uuid.uuid4().hex[:8]}", topic_prefix,
                    tmp_path, clock="wall").start()
    reader = Reader(kafka_bootstrap, [topic_prefix + "pathwatch.intervals",
                                      topic_prefix + "pathwatch.alerts"])
    try:
        worker.wait_ready(timeout=60)
        wanted = {key for key, r in final.items() if "withdrawn" not in r.quality_flags}

        def caught_up(r: Reader) -> bool:
            seen = {(m.json()["incident_id"], m.json()["interval"])
                    for m in r.messages[topic_prefix + "pathwatch.intervals"]}
            return wanted <= seen

        assert reader.until(caught_up, timeout=180, worker=worker), "worker did not catch up"
        # (an interval closed at its very deadline is met: not a breach the worker owes)
        met = {key for key, r in final.items() if r.met is True}
        real = {(a.incident_id, a.interval) for a in offline_alerts
                if a.kind == "breach" and (a.incident_id, a.interval) not in met}

        def breached(r: Reader) -> bool:
            return real <= {(m.json()["incident_id"], m.json()["interval"])
                            for m in r.messages[topic_prefix + "pathwatch.alerts"]
                            if m.json()["kind"] == "breach"}

        reader.until(breached, timeout=60, worker=worker)  # the sweeps after the catch-up
        for _ in range(3):  # and a few more, which must raise no false breach either
            reader.poll(1.0)
    finally:
        worker.stop()
        reader.close()

    breaches = [m.json() for m in reader.messages[topic_prefix + "pathwatch.alerts"]
                if m.json()["kind"] == "breach"]
    false = [
        (b["interval"], b["incident_id"])
        for b in breaches
        if (b["incident_id"], b["interval"]) in final
        and final[(b["incident_id"], b["interval"])].met is True
    ]
    missed = real - {(b["incident_id"], b["interval"]) for b in breaches}
    record_figures("catch_up", intervals=len(wanted), breaches_live=len(breaches),
                   false_breaches=len(false), breaches_offline_not_met=len(real),
                   of_those_missed_live=len(missed))
    assert len(wanted) > 100
    assert false == [], f"{len(false)} false breaches of {len(breaches)}: {false[:5]}"
    # and none held back for good: every breach the offline replay raises is raised live too
    # (live may raise more: it sweeps at the wall clock, after the last event)
    assert len(real) > 10
    assert missed == set(), f"{len(missed)} of {len(real)} not raised: {sorted(missed)[:5]}"
