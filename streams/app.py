"""The Faust app factory: topics, tables and agents of one pathwatch worker.

    app = create_app(settings, clock=WallClock(), registry=CollectorRegistry())

Everything the agents decide is a call into `pathways`/`geo`; this module only wires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust

from streams import faust_consumer
from streams import topics as names
from streams.clock import Clock
from streams.ingest import DeadLetterPolicy
from streams.settings import Settings
from streams.sinks import KafkaSink
from streams.telemetry import NoTelemetry, Telemetry

DEFAULT_APP_ID = "pathwatch"
# Room for a dead-lettered message of up to the broker's limit plus its headers.
PRODUCER_MAX_REQUEST_BYTES = names.MAX_MESSAGE_BYTES + 64 * 1024
# A producer batch (per partition) of up to 1 MiB: within a broker's default message.max.bytes
# (1 MiB + 12 bytes), for topics not created with ours. Faust's default, 16 KiB, holds two or
# three incident records (an incident's state alone is 4-8 KiB of JSON in the city stream), so
# a table flush filled it at almost every record; and a full batch makes the send wait until
# the partition's request in flight is answered, the agent with it (the other agent runs a
# whole batch meanwhile). Measured (bench machine, one worker, input at 5,000 ev/s for 10 s):
# 739 such waits, 7.4 s in all; none with 256 KiB or 1 MiB.
PRODUCER_MAX_BATCH_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    app_id: str = DEFAULT_APP_ID
    topic_prefix: str = ""
    partitions: int = names.DEFAULT_PARTITIONS
    web_enabled: bool = False
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    datadir: Path | None = None
    sweep_interval_s: float = 1.0
    # event-time mode: how far behind its latest event a partition's clock stays, so events
    # that took a longer path (the unit side) are not overtaken by a sweep; at 60x, 5 s of
    # event time is 80 ms of wall time
    lateness_s: float = 5.0
    eta_threshold_s: float = 120.0
    region: str | None = None  # geo region name or folder; None: the demo region
    rule_pack: str = "cn"
    policy: DeadLetterPolicy = field(default_factory=DeadLetterPolicy)


@dataclass(slots=True)
class Topics:
    """What each agent reads, and the feeds written to."""

    shared_inputs: Any  # hospital.status: copied to every incident partition
    unit_inputs: Any  # dispatch.units, dispatch.gps and the unit feed
    incident_inputs: Any  # dispatch.calls, clinical.events, hospital.events, the incident feed
    incident_feed: Any
    unit_feed: Any
    sink: KafkaSink


def faust_app(settings: Settings, options: WorkerOptions) -> faust.App:
    """The Faust app of a worker, configured but without topics or agents (the benchmarks
    measure Faust alone with the very same settings)."""
    datadir = options.datadir or settings.home / "faust"
    app = faust.App(
        options.app_id,
        **settings.faust_app_kwargs(),
        store="memory://",
        autodiscover=False,
        processing_guarantee="at_least_once",
        topic_partitions=options.partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        producer_max_request_size=PRODUCER_MAX_REQUEST_BYTES,
        producer_max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        consumer_max_fetch_size=PRODUCER_MAX_REQUEST_BYTES,
        table_standby_replicas=0,
        # batch sends for 5 ms (Faust's default is 0: a request per few messages); measured
        # +43% events/s in bench_e2e --quick, at 5 ms of latency
        producer_linger=0.005,
        # a SIGKILLed worker's partitions move on after 10 s, not Faust's default 60 s
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        datadir=str(datadir),
        # With `streams.web.attach_web` registered (the worker command does it), Faust starts
        # that server instead of its own; should its own ever start, /table (table values are
        # patient data) and /router (cluster topology) stay off.
        web_enabled=options.web_enabled,
        web_host=options.web_host,
        web_port=options.web_port,
        web_tables_enabled=False,
        web_router_enabled=False,
    )
    # Faust's consumer with a cheaper per-message hand-over and short fetch waits
    # (streams/faust_consumer.py)
    app.transport = faust_consumer.Transport(app.conf.broker_consumer, app)
    return app


FEEDS = ("incident-feed", "unit-feed")
# read by the incident agent itself (keyed by incident_id, like its table)
INCIDENT_INPUTS = (names.CALLS, names.CLINICAL_EVENTS, names.HOSPITAL_EVENTS)


def feed_topic_names(options: WorkerOptions) -> list[str]:
    """The internal topics (created before the worker starts, so the first assignment has them)."""
    return [f"{options.topic_prefix}{options.app_id}-{name}" for name in FEEDS]


def _topics(app: faust.App, options: WorkerOptions) -> Topics:
    prefix = options.topic_prefix

    def raw(*topic_names: str, **extra: Any) -> Any:
        return app.topic(*topic_names, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw", **extra)

    def feed_name(name: str) -> str:
        return f"{prefix}{options.app_id}-{name}"

    def feed(name: str) -> Any:
        return raw(feed_name(name), partitions=options.partitions, internal=True,
                   config=dict(names.TOPIC_CONFIG))

    transport = app.transport
    assert isinstance(transport, faust_consumer.Transport)  # `faust_app` installs it
    sink = KafkaSink(
        sends=transport.direct_producer(),
        intervals=prefix + names.INTERVALS,
        alerts=prefix + names.ALERTS,
        prealerts=prefix + names.PREALERTS,
        deadletters=prefix + names.DEADLETTER,
    )
    return Topics(
        shared_inputs=raw(prefix + names.HOSPITAL_STATUS),
        unit_inputs=raw(prefix + names.UNITS, prefix + names.GPS, feed_name("unit-feed")),
        incident_inputs=raw(*(prefix + name for name in INCIDENT_INPUTS),
                            feed_name("incident-feed")),
        incident_feed=feed("incident-feed"),
        unit_feed=feed("unit-feed"),
        sink=sink,
    )


def create_app(
    settings: Settings,
    *,
    clock: Clock,
    registry: Any = None,
    telemetry: Telemetry | None = None,
    options: WorkerOptions | None = None,
) -> faust.App:
    """A configured app with its agents; `registry` is the Prometheus registry of metrics."""
    from streams.agents import install  # agents import pathways/geo, which are heavier

    options = options or WorkerOptions()
    app = faust_app(settings, options)
    if telemetry is None:
        telemetry = _metrics(registry, options) if registry is not None else NoTelemetry()
    install(app, _topics(app, options), clock=clock, telemetry=telemetry, options=options)
    return app


def _metrics(registry: Any, options: WorkerOptions) -> Telemetry:
    from pathways.rulepack import load_pack
    from streams.metrics import metrics_for_pack

    return metrics_for_pack(registry, load_pack(options.rule_pack))
