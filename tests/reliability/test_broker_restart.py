"""Issue #10: the broker restarts mid-stream; the producer (`pathwatch simulate`) and the worker
reconnect by themselves and nothing produced during the outage is lost.

A dedicated broker (own folder and ports) so the session's broker is not disturbed. The
broker keeps its data folder across the restart, as a real one does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from streams.broker import Broker, free_ports
from tests.integration.pipeline import ROOT, Reader, Worker, ensure_topics
from tests.reliability import harness

pytestmark = pytest.mark.integration

MINUTES = 15  # of calls; every call is run to completion (--finish)
SPEED = 200.0
OUTAGE_S = 10.0
STOP_AFTER_S = 6.0
INPUTS = ("dispatch.calls", "dispatch.units", "dispatch.gps", "clinical.events",
          "hospital.events", "hospital.status")


def _simulate(bootstrap: str, prefix: str, log: Path) -> subprocess.Popen[bytes]:
    args = [
        sys.executable, "-m", "streams.cli", "simulate", "--bootstrap", bootstrap,
        "--topic-prefix", prefix, "--seed", "7", "--start", harness.CITY_START.isoformat(),
        "--duration", f"{MINUTES}m", "--calls-per-hour", "60", "--finish",
        "--speed", str(SPEED),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL)


def _crash(broker: Broker) -> None:
    pid = broker.status().pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while broker.status().running and time.monotonic() < deadline:
        time.sleep(0.1)


def _restart_run(tmp_path: Path, hard: bool) -> None:
    events = harness.city_events(seed=7, minutes=MINUTES)
    want = harness.reference(events)
    broker = Broker(tmp_path / "kafka", *free_ports(2))
    broker.start(timeout=120, tie_to_parent=True)
    prefix = f"restart-{uuid.uuid4().hex[:8]}."
    worker = Worker(broker.bootstrap, f"restart-{uuid.uuid4().hex[:8]}", prefix, tmp_path)
    producer: subprocess.Popen[bytes] | None = None
    try:
        ensure_topics(broker.bootstrap, prefix)
        worker.start()
        producer = _simulate(broker.bootstrap, prefix, tmp_path / "simulate.log")
        time.sleep(STOP_AFTER_S)
        assert producer.poll() is None, "the feed ended before the broker was stopped"
        if hard:
            _crash(broker)
        else:
            broker.stop()
        down_at = time.monotonic()
        time.sleep(OUTAGE_S)
        broker.start(timeout=120, tie_to_parent=True)
        up_at = time.monotonic()
        outputs = [prefix + name for name in ("pathwatch.intervals", "pathwatch.alerts",
                                              "pathwatch.prealerts", "pathwatch.deadletter")]
        reader = Reader(broker.bootstrap, outputs + [prefix + name for name in INPUTS])
        written = harness.end_offsets(reader, outputs)
        assert reader.until(lambda r: harness.end_offsets(r, outputs) > written, 180, worker), (
            "the worker wrote nothing after the broker came back")
        resumed_at = time.monotonic()
        assert producer.wait(180) == 0, (tmp_path / "simulate.log").read_text()[-2000:]

        def done(r: Reader) -> bool:
            bodies = [m.json() for m in r.messages[outputs[0]]]
            return harness.final_intervals(bodies) == want.intervals

        converged = reader.until(done, 180, worker)
        reader.poll(2.0)
    finally:
        if producer is not None and producer.poll() is None:
            producer.kill()
        worker.stop()
        broker.stop()
    inputs = [m for name in INPUTS for m in reader.messages[prefix + name]]
    ids = [m.json()["event_id"] for m in inputs]
    lost = {e.event_id for e in events} - set(ids)
    got = harness.final_intervals(m.json() for m in reader.messages[outputs[0]])
    diff = harness.diff_intervals(got, want.intervals)
    harness.record_figures(
        "broker_restart_kill" if hard else "broker_restart", events=len(events),
        outage_s=round(up_at - down_at, 1), input_messages=len(ids),
        input_lost=len(lost), input_duplicates=len(ids) - len(set(ids)),
        final_intervals_expected=len(want.intervals), final_intervals_got=len(got),
        intervals_lost=len(diff["missing"]), intervals_wrong=len(diff["changed"]),
        worker_resumed_s=round(resumed_at - up_at, 1),
        deadletters=len(reader.messages[outputs[3]]),
    )
    reader.close()
    assert lost == set(), sorted(lost)[:10]
    assert converged and not any(diff[k] for k in ("missing", "extra", "changed")), diff
    assert reader.messages[outputs[3]] == []


def test_broker_restart_loses_nothing(tmp_path: Path) -> None:
    _restart_run(tmp_path, hard=False)


@pytest.mark.soak
def test_broker_crash_sigkill_loses_nothing(tmp_path: Path) -> None:
    _restart_run(tmp_path, hard=True)


def test_a_worker_told_to_stop_while_kafka_is_down_exits_within_its_timeout(
    tmp_path: Path,
) -> None:
    """Faust's stop commits and flushes, waiting for Kafka as long as it takes: without a bound
    a worker stopped (SIGTERM) during an outage never exited."""
    broker = Broker(tmp_path / "kafka", *free_ports(2))
    broker.start(timeout=120, tie_to_parent=True)
    worker = Worker(broker.bootstrap, f"stop-{uuid.uuid4().hex[:8]}", "stop.", tmp_path,
                    extra=("--shutdown-timeout", "5"))
    try:
        worker.start().wait_ready(60)
        broker.stop()
        time.sleep(2.0)
        assert worker.proc is not None
        worker.proc.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        worker.proc.wait(40)
        took = time.monotonic() - asked
    finally:
        worker.kill()
        broker.stop()
    harness.record_figures("stop_while_kafka_down", exit_s=round(took, 1),
                           exit_code=worker.proc.returncode)
    assert took < 20, took
    if worker.proc.returncode != 0:  # left by the timeout: it says so
        assert '"event":"shutdown_timeout"' in worker.log_text()
