"""Issue #10, security. What tests/streams/web/test_server.py (a fixed matrix, in process) does
not cover:

- every route the web app registers is either on a short public list or needs a token, so a
  new endpoint without a check fails here;
- a live `pathwatch worker` with its web server: tokens on every endpoint and on the SSE
  streams, each hospital's board holds only its patients, Faust's table and debug pages are
  off, and neither the log nor `/metrics` holds a patient field (names, ids, complaints,
  scene coordinates) after a run with pre-alerts, intervals and dead letters;
- SASL/SSL settings from the environment reach every Kafka client the product creates.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from pathways import events as ev
from streams.broker import free_ports
from streams.settings import Settings
from streams.web.access import Tokens
from tests.integration import scenarios
from tests.integration.pipeline import ROOT, Reader, ensure_topics, produce_events, producer

TOKENS = Tokens(
    wall="wall-token-0123456789abcdef",
    hospitals={f"H0{i}": f"h0{i}-token-0123456789abcdef" for i in range(1, 10)},
)
# Reachable without a token, on purpose: the login form, logout, the health probe, the page
# assets (no data), and /metrics for Prometheus (holds no patient data: checked below).
PUBLIC = {"/login", "/logout", "/healthz", "/metrics"}
PUBLIC_PREFIXES = ("/static",)
SECRET_COMPLAINT = "胸痛伴大汗PWSECRETCOMPLAINT"
SECRET_NAME = "王秀英PWSECRETNAME"


# --- every registered route needs a token ----------------------------------------------------


def _web_app() -> Any:
    from prometheus_client import CollectorRegistry

    from geo.regions import load_region
    from pathways.rulepack import load_pack
    from streams.web.board import Board, BoardTargets
    from streams.web.region_map import region_districts, region_hospitals
    from streams.web.server import BoardHub, build_web_app

    region = load_region()
    board = Board(targets=BoardTargets.from_pack(load_pack("cn")), locate=region.locate,
                  hospitals=region_hospitals(region), districts=region_districts(region))
    hub = BoardHub(board, lambda: scenarios.BASE)
    return build_web_app(hub, TOKENS, registry=CollectorRegistry())


def _routes(app: Any) -> list[tuple[str, str]]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix") or ""
        if route.method != "HEAD":
            out.append((route.method, path.replace("{hospital_id}", "H01")))
    return out


def test_every_registered_route_needs_a_token() -> None:
    app = _web_app()
    routes = _routes(app)
    guarded = [(m, p) for m, p in routes
               if p not in PUBLIC and not p.startswith(PUBLIC_PREFIXES)]
    assert len(guarded) >= 8, routes  # the screens, their JSON and their streams

    async def probe() -> list[str]:
        wrong = {"Authorization": f"Bearer {TOKENS.hospitals['H02']}"}
        problems = []
        async with TestClient(TestServer(app)) as client:
            for method, path in guarded:
                for headers, allowed in (({}, {401, 303}), (wrong, {403})):
                    response = await client.request(method, path, headers=headers,
                                                    allow_redirects=False, json={})
                    if response.status not in allowed:
                        problems.append(f"{method} {path} {headers or 'no token'}: "
                                        f"{response.status}")
                    response.close()
        return problems

    assert asyncio.run(probe()) == []


# --- a live worker --------------------------------------------------------------------------


@dataclasses.dataclass
class LiveWorker:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def get(self, path: str, token: str | None = None, timeout: float = 5.0,
            first_line: bool = False) -> tuple[int, str, dict[str, str]]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=timeout) as response:
                body = response.readline() if first_line else response.read()
                return response.status, body.decode(errors="replace"), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace"), dict(exc.headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _unique(events: list[ev.Event], incident: str) -> list[ev.Event]:
    """The scenario with a unique incident id, and a complaint on its call."""
    out = []
    for event in events:
        old = event.incident_id
        changes: dict[str, Any] = {}
        if old is not None:
            changes = {"incident_id": incident,
                       "event_id": event.event_id.replace(old, incident)}
        if isinstance(event, ev.CallReceived):
            changes["complaint"] = SECRET_COMPLAINT
        out.append(dataclasses.replace(event, **changes))
    return out


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWorker]:
    tmp = tmp_path_factory.mktemp("secure")
    prefix = f"sec-{uuid.uuid4().hex[:8]}."
    ensure_topics(kafka_bootstrap, prefix)
    port = free_ports(1)[0]
    log = tmp / "worker.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "PATHWATCH_TOKENS": json.dumps({"wall": TOKENS.wall, "hospitals": TOKENS.hospitals})}
    args = [sys.executable, "-m", "streams.cli", "worker", "--bootstrap", kafka_bootstrap,
            "--app-id", f"sec-{uuid.uuid4().hex[:8]}", "--topic-prefix", prefix,
            "--clock", "watermark", "--sweep-interval", "0.5", "--web-port", str(port),
            "--datadir", str(tmp / "faust")]
    with log.open("ab") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL)
    worker = LiveWorker(proc, port, log)
    try:
        _feed(kafka_bootstrap, prefix, worker)
        yield worker
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


INCIDENT_H01 = f"PWINC{uuid.uuid4().hex[:8]}A"  # STEMI to H01
INCIDENT_H02 = f"PWINC{uuid.uuid4().hex[:8]}B"  # stroke to H02


def _feed(bootstrap: str, prefix: str, worker: LiveWorker) -> None:
    stemi = _unique(scenarios.stemi_bypass().events, INCIDENT_H01)
    stroke = _unique(scenarios.stroke_thrombolysis().events, INCIDENT_H02)
    # the stroke patient's transport stops short of the door: the H02 board has them incoming
    stroke = [e for e in stroke if e.TYPE not in ("unit.at_destination", "hospital.arrived",
                                                  "ct.started", "ct.read", "thrombolysis.started",
                                                  "incident.closed")]
    prod = producer(bootstrap)
    produce_events(prod, prefix, sorted(stemi + stroke, key=lambda e: e.ts))
    bad = json.dumps({"type": "call.received", "incident_id": INCIDENT_H01,
                      "patient_name": SECRET_NAME, "complaint": SECRET_COMPLAINT}).encode()
    for topic in ("dispatch.calls", "clinical.events"):
        prod.send(prefix + topic, key=INCIDENT_H01.encode(), value=bad)
    prod.flush()
    prod.close()
    reader = Reader(bootstrap, [prefix + "pathwatch.prealerts", prefix + "pathwatch.deadletter"])

    def done(r: Reader) -> bool:
        states = {(m.json()["incident_id"], m.json()["state"])
                  for m in r.messages[prefix + "pathwatch.prealerts"]}
        return ({(INCIDENT_H01, "new"), (INCIDENT_H02, "new")} <= states
                and len(r.messages[prefix + "pathwatch.deadletter"]) >= 2)

    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not done(reader):
            assert worker.proc.poll() is None, worker.log.read_text()[-3000:]
            reader.poll(0.5)
        assert done(reader), "the worker did not process the scenario"
    finally:
        reader.close()


LIVE_ENDPOINTS = [  # (path, the one principal allowed)
    ("/", "wall"), ("/api/wall", "wall"), ("/api/wall/stream", "wall"), ("/api/region", "wall"),
    ("/hospitals/H01", "H01"), ("/api/hospitals/H01/board", "H01"),
    ("/api/hospitals/H01/stream", "H01"),
    ("/hospitals/H02", "H02"), ("/api/hospitals/H02/board", "H02"),
    ("/api/hospitals/H02/stream", "H02"),
]


def _token(who: str | None) -> str | None:
    if who is None:
        return None
    return TOKENS.wall if who == "wall" else TOKENS.hospitals.get(who, "bogus-token-0123456789")


@pytest.mark.integration
def test_live_tokens_on_every_endpoint_and_stream(live: LiveWorker) -> None:
    problems = []
    for path, allowed in LIVE_ENDPOINTS:
        for who in (None, "bogus", "wall", "H01", "H02", "H03"):
            status, _, headers = live.get(path, _token(who), first_line=path.endswith("stream"))
            if who == allowed:
                want = {200}
            elif who in (None, "bogus"):
                want = {401} if path.startswith("/api/") else {303}
            else:
                want = {403}
            if status not in want:
                problems.append(f"{path} as {who}: {status}")
            if status == 200 and path.endswith("/stream"):
                assert headers.get("Content-Type", "").startswith("text/event-stream")
    assert problems == []


@pytest.mark.integration
def test_live_board_holds_only_its_own_patients(live: LiveWorker) -> None:
    def boards() -> tuple[str, str]:
        return (live.get("/api/hospitals/H01/board", _token("H01"))[1],
                live.get("/api/hospitals/H02/board", _token("H02"))[1])

    deadline = time.monotonic() + 30
    h01, h02 = boards()
    while INCIDENT_H02 not in h02 and time.monotonic() < deadline:
        time.sleep(0.5)
        h01, h02 = boards()
    assert INCIDENT_H02 in h02, f"the incoming stroke patient is not on H02's board: {h02[:500]}"
    assert INCIDENT_H02 not in h01 and INCIDENT_H01 not in h02


FAUST_PAGES = ["/table", "/table/", "/table/incidents/", "/table/units/", "/tables/",
               "/router/", "/router/incidents/", "/graph/", "/stats/", "/signal/",
               "/assignment/", "/dashboard/", "/debug", "/_debug", "/api/tables",
               "/api/table/incidents"]


@pytest.mark.integration
def test_live_table_and_debug_pages_are_off(live: LiveWorker) -> None:
    served = {}
    for path in FAUST_PAGES:
        for who in (None, "wall", "H01"):
            status, body, _ = live.get(path, _token(who))
            if status not in (404, 405):
                served[f"{path} as {who}"] = (status, body[:80])
    assert served == {}


def _secrets() -> dict[str, str]:
    lat, lon = scenarios.SCENE
    return {"incident id (H01)": INCIDENT_H01, "incident id (H02)": INCIDENT_H02,
            "complaint": SECRET_COMPLAINT, "complaint (ascii part)": "PWSECRETCOMPLAINT",
            "patient name": "PWSECRETNAME", "scene latitude": f"{lat:.4f}".rstrip("0"),
            "scene longitude": f"{lon:.4f}".rstrip("0")}


@pytest.mark.integration
def test_live_no_patient_field_in_metrics(live: LiveWorker) -> None:
    status, text, _ = live.get("/metrics")
    assert status == 200 and "pathwatch_" in text
    assert "pathwatch_deadletter" in text or "deadletter" in text  # the run is in the metrics
    found = {name: _lines_with(text, value) for name, value in _secrets().items()
             if value in text}
    assert found == {}
    labels = set(re.findall(r'(\w+)="', text))
    assert not labels & {"incident_id", "incident", "patient", "name", "complaint", "event_id",
                         "lat", "lon"}, labels


@pytest.mark.integration
def test_live_no_patient_field_in_logs(live: LiveWorker) -> None:
    live.get("/api/hospitals/H01/board", _token("H02"))  # a refused request is logged too
    text = live.log.read_text(errors="replace")
    assert '"event":"deadletter"' in text and "pre-alert" in text  # the run is in the log
    found = {name: _lines_with(text, value) for name, value in _secrets().items()
             if value in text}
    assert found == {}


def _lines_with(text: str, value: str) -> list[str]:
    return [line[:200] for line in text.splitlines() if value in line][:3]


# --- SASL/SSL from the environment reaches every Kafka client ----------------------------------

SASL_ENV = {
    "PATHWATCH_BOOTSTRAP": "kafka-a.invalid:9093",
    "PATHWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "PATHWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
    "PATHWATCH_KAFKA_SASL_USERNAME": "pathwatch-svc",
    "PATHWATCH_KAFKA_SASL_PASSWORD": "pw-from-env",
}
_SECURITY = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256",
             "sasl_plain_username": "pathwatch-svc", "sasl_plain_password": "pw-from-env"}


class _Recorded(Exception):
    """Raised by a fake client constructor: the kwargs were recorded, go no further."""


@pytest.fixture
def sasl_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[dict[str, Any]]]:
    for name, value in SASL_ENV.items():
        monkeypatch.setenv(name, value)
    calls: dict[str, list[dict[str, Any]]] = {}

    def fake(name: str) -> Any:
        def constructor(*args: Any, **kwargs: Any) -> Any:
            calls.setdefault(name, []).append(kwargs)
            raise _Recorded(name)
        return constructor

    import aiokafka
    import kafka

    for name in ("KafkaProducer", "KafkaConsumer", "KafkaAdminClient"):
        monkeypatch.setattr(kafka, name, fake(name))
    for module in ("streams.topics", "streams.web.feed"):
        mod = __import__(module, fromlist=["_"])
        for name in ("KafkaAdminClient", "AIOKafkaConsumer", "AIOKafkaProducer"):
            if hasattr(mod, name):
                monkeypatch.setattr(mod, name, fake(name))
    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", fake("AIOKafkaConsumer"))
    monkeypatch.setattr(aiokafka, "AIOKafkaProducer", fake("AIOKafkaProducer"))
    return calls


def _has_security(kwargs: dict[str, Any]) -> bool:
    return all(kwargs.get(k) == v for k, v in _SECURITY.items())


def test_sasl_reaches_the_simulator_and_importer_producers(
    sasl_env: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    from streams.cli import main

    for argv in (["simulate", "--duration", "1m", "--seed", "1"],):
        with pytest.raises(_Recorded):
            main(argv)
    assert sasl_env["KafkaProducer"] and all(_has_security(k) for k in sasl_env["KafkaProducer"])
    assert all(k["bootstrap_servers"] == ["kafka-a.invalid:9093"]
               for k in sasl_env["KafkaProducer"])


def test_sasl_reaches_the_topic_admin(sasl_env: dict[str, list[dict[str, Any]]]) -> None:
    from streams.topics import TopicError, create_topics

    with pytest.raises((_Recorded, TopicError)):
        create_topics(settings=Settings.from_env(), prefix="x.")
    assert sasl_env["KafkaAdminClient"] and all(_has_security(k)
                                                for k in sasl_env["KafkaAdminClient"])


def test_sasl_reaches_the_board_feed_clients(sasl_env: dict[str, list[dict[str, Any]]]) -> None:
    from streams.web import feed

    kwargs = feed.BoardFeed(None, Settings.from_env())._kafka_kwargs()  # type: ignore[arg-type]
    assert _has_security(kwargs), kwargs
    assert kwargs.get("ssl_context") is not None  # SASL_SSL: TLS as well
    assert kwargs["bootstrap_servers"] == "kafka-a.invalid:9093"


def test_sasl_reaches_the_worker_faust_app(sasl_env: dict[str, list[dict[str, Any]]]) -> None:
    import faust

    from streams.app import create_app
    from streams.clock import clock_named

    app = create_app(Settings.from_env(), clock=clock_named("watermark"))
    credentials = app.conf.broker_credentials
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("pathwatch-svc", "pw-from-env")
    assert credentials.mechanism.value == "SCRAM-SHA-256"
    assert credentials.protocol.value == "SASL_SSL" and credentials.ssl_context is not None
    assert [f"{u.host}:{u.port}" for u in app.conf.broker] == ["kafka-a.invalid:9093"]


def test_no_kafka_client_is_built_outside_the_settings() -> None:
    """Every Kafka client constructor in the product takes its kwargs from `Settings`: a
    client built from a bare bootstrap would silently ignore SASL/SSL."""
    pattern = re.compile(r"\b(KafkaProducer|KafkaConsumer|KafkaAdminClient|AIOKafkaConsumer|"
                         r"AIOKafkaProducer|AIOKafkaAdminClient)\(")
    offenders = []
    for folder in ("streams", "simulators", "pathways", "geo"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text()
            for match in pattern.finditer(text):
                call = text[match.start(): text.find(")", match.end()) + 1]
                window = text[match.start(): match.start() + 400]
                if not re.search(r"kafka_client_kwargs|_kafka_kwargs|client_kwargs", window):
                    offenders.append(f"{path.relative_to(ROOT)}: {call[:80]}")
    assert offenders == []


@pytest.mark.integration
def test_live_deadletter_metric_counts_what_was_dead_lettered(live: LiveWorker) -> None:
    """Counted: the two bad messages of the run are in `pathwatch_deadletters_total`."""
    _, text, _ = live.get("/metrics")
    samples = re.findall(r'^pathwatch_deadletters_total\{([^}]*)\} ([0-9.e+]+)$', text, re.M)
    assert sum(float(value) for _, value in samples) == 2, samples
    assert all('reason="schema"' in labels for labels, _ in samples), samples
