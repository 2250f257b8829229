"""The app factory: topics, tables, agents and the settings the team agreed on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.app import (
    PRODUCER_MAX_REQUEST_BYTES,
    WorkerOptions,
    create_app,
    faust_app,
    feed_topic_names,
)
from streams.clock import WatermarkClock
from streams.incident_agent import IncidentDesk
from streams.settings import Settings
from streams.unit_agent import UnitDesk

BROKER_DEFAULT_MESSAGE_MAX_BYTES = 1024 * 1024 + 12  # Kafka's message.max.bytes default


def test_a_producer_batch_holds_many_table_records_and_fits_any_topic(tmp_path: Path) -> None:
    # a full batch makes a send wait for the partition's request in flight (streams/app.py)
    app = faust_app(Settings(bootstrap="127.0.0.1:1"), WorkerOptions(datadir=tmp_path))
    producer = app.producer
    assert isinstance(producer, aiokafka_driver.Producer)  # typed as faust's ProducerT
    given = producer._settings_default()  # what Faust gives aiokafka's producer
    assert given["max_batch_size"] == app.conf.producer_max_batch_size >= 256 * 1024
    assert app.conf.producer_max_batch_size <= BROKER_DEFAULT_MESSAGE_MAX_BYTES
    assert app.conf.producer_max_request_size == PRODUCER_MAX_REQUEST_BYTES


def test_create_app_wires_agents_tables_and_safe_settings(tmp_path: Path) -> None:
    options = WorkerOptions(app_id="t-app", topic_prefix="p.", datadir=tmp_path)
    registry = CollectorRegistry()
    app = create_app(Settings(bootstrap="127.0.0.1:1"), clock=WatermarkClock(),
                     registry=registry, options=options)
    conf = app.conf
    # faust types its enum settings as the enum class (Settings: params.Enum), not a member
    assert conf.processing_guarantee.value == "at_least_once"  # type: ignore[comparison-overlap]
    assert conf.web_tables_enabled is False and conf.web_router_enabled is False
    agents = {a.name.rsplit(".", 1)[-1]: a for a in app.agents.values()}
    assert set(agents) >= {"ingest", "units", "incidents"}
    assert all(a.concurrency == 1 for a in agents.values())
    # every input topic is read by exactly one agent; the tables' sides read their own
    reads = {name: set(agent.channel.topics) for name, agent in agents.items()}
    assert reads["ingest"] == {"p.hospital.status"}
    assert reads["units"] == {"p.dispatch.units", "p.dispatch.gps", "p.t-app-unit-feed"}
    assert reads["incidents"] == {"p.dispatch.calls", "p.clinical.events", "p.hospital.events",
                                  "p.t-app-incident-feed"}
    assert feed_topic_names(options) == ["p.t-app-incident-feed", "p.t-app-unit-feed"]
    assert {"incidents", "units"} <= set(app.tables)
    # the pack's targets reach the metrics on the registry passed in
    assert registry.get_sample_value(
        "pathwatch_interval_target_seconds", {"interval": "door_to_balloon", "area_type": ""}
    ) == 5400.0


def test_a_new_assignment_makes_the_desks_forget_what_the_table_knows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # after a rebalance the tables are the truth: deadlines and unsaved unit state in this
    # process's memory may be of partitions that moved away and back
    forgot: list[str] = []
    monkeypatch.setattr(IncidentDesk, "forget_deadlines", lambda self: forgot.append("deadlines"))
    monkeypatch.setattr(UnitDesk, "forget_unsaved", lambda self: forgot.append("unsaved"))
    app = create_app(Settings(bootstrap="127.0.0.1:1"), clock=WatermarkClock(),
                     options=WorkerOptions(datadir=tmp_path))
    assert forgot == []
    asyncio.run(app.on_partitions_assigned.send({TP("pathwatch-incident-feed", 0)}))
    assert forgot == ["deadlines", "unsaved"]
