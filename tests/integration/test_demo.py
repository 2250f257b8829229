"""`pathwatch demo` for two minutes: intervals of every kind the scenario covers, pre-alerts
to hospitals, and non-empty metrics (issue: simulators and the one-command demo)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from itertools import takewhile
from pathlib import Path

from geo.regions import load_region
from pathways.engine import Engine
from pathways.events import dumps
from pathways.replay import replay
from pathways.rulepack import load_pack
from simulators.city import generate
from simulators.scenario import load_scenario
from streams.broker import free_ports
from tests.integration.pipeline import Reader

ROOT = Path(__file__).resolve().parents[2]
START = datetime.fromisoformat("2026-11-24T06:00:00+08:00")
SEED = 3
RUN_S = 120
WARMUP = timedelta(hours=4)  # the demo's default


def expected_interval_names() -> set[str]:
    """What the same scenario yields offline over the warm-up and the first half hour paced."""
    region = load_region()
    cutoff = START + WARMUP + timedelta(minutes=30)
    # the demo's own run (a shorter run is not a prefix of a longer one), cut in event time
    events = takewhile(lambda e: e.ts < cutoff,
                       generate(region, load_scenario(None), SEED, START, timedelta(days=1)))
    records, _, errors, _ = replay((dumps(e) for e in events),
                                   Engine(load_pack("cn"), locate=region.locate))
    assert not errors
    return {r.interval for r in records if "withdrawn" not in r.quality_flags}


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def sample_total(text: str, name: str) -> float:
    pattern = re.compile(rf"^{name}(\{{[^}}]*\}})? (\S+)$", re.M)
    return sum(float(m.group(2)) for m in pattern.finditer(text))


def test_demo_for_two_minutes(kafka_bootstrap: str, tmp_path: Path) -> None:
    (port,) = free_ports(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATHWATCH_TOKENS")}
    env.update(PATHWATCH_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    log = tmp_path / "demo.out"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "demo", "--bootstrap", kafka_bootstrap,
             "--for", str(RUN_S), "--web-port", str(port), "--seed", str(SEED),
             "--start", START.isoformat()],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    started = time.monotonic()
    expected = expected_interval_names()
    assert {"door_to_balloon", "stroke_door_to_needle", "trauma_door_to_team"} <= expected
    while time.monotonic() - started < RUN_S - 15 and demo.poll() is None:
        time.sleep(1)
    metrics = scrape(port)
    assert demo.wait(timeout=90) == 0, log.read_text()
    printed = log.read_text()
    assert f"http://127.0.0.1:{port}/hospitals/" in printed and "/metrics" in printed

    reader = Reader(kafka_bootstrap, ["pathwatch.intervals", "pathwatch.prealerts"])
    reader.until(lambda r: bool(r.messages["pathwatch.prealerts"]), timeout=30)
    for _ in range(5):
        reader.poll(1.0)
    reader.close()
    produced = {m.json()["interval"] for m in reader.messages["pathwatch.intervals"]}
    assert expected - produced == set(), f"missing intervals; produced {sorted(produced)}"
    prealerts = [m.json() for m in reader.messages["pathwatch.prealerts"]]
    assert {p["state"] for p in prealerts} >= {"new", "arrived"}
    assert len({p["hospital_id"] for p in prealerts}) >= 2

    assert sample_total(metrics, "pathwatch_interval_seconds_count") > 0
    assert sample_total(metrics, "pathwatch_prealerts_total") > 0
    assert sample_total(metrics, "pathwatch_events_total") > 1000
