"""The contract's topic names (DESIGN.md, event contract v1) and their creation."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streams.settings import PathwatchError, Settings

if TYPE_CHECKING:
    from kafka import KafkaAdminClient

log = logging.getLogger(__name__)

# input
CALLS = "dispatch.calls"
UNITS = "dispatch.units"
GPS = "dispatch.gps"
CLINICAL_EVENTS = "clinical.events"
HOSPITAL_EVENTS = "hospital.events"
HOSPITAL_STATUS = "hospital.status"
# output
INTERVALS = "pathwatch.intervals"
ALERTS = "pathwatch.alerts"
PREALERTS = "pathwatch.prealerts"
DEADLETTER = "pathwatch.deadletter"

INPUT_TOPICS = (CALLS, UNITS, GPS, CLINICAL_EVENTS, HOSPITAL_EVENTS, HOSPITAL_STATUS)
OUTPUT_TOPICS = (INTERVALS, ALERTS, PREALERTS, DEADLETTER)
ALL_TOPICS = INPUT_TOPICS + OUTPUT_TOPICS

DEFAULT_PARTITIONS = 6
# Oversized input must reach the worker so it can be dead-lettered as `too_large` with its
# original bytes; 2 MiB on every topic (and on the embedded broker) leaves room for that.
MAX_MESSAGE_BYTES = 2 * 1024 * 1024
TOPIC_CONFIG = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
# the worker's tables; Faust keeps each in a compacted changelog topic
INCIDENT_TABLE = "incidents"
UNIT_TABLE = "units"
TABLES = (INCIDENT_TABLE, UNIT_TABLE)
CHANGELOG_CONFIG = {**TOPIC_CONFIG, "cleanup.policy": "compact"}


def changelog_topic(app_id: str, table: str) -> str:
    """Faust's name for a table's changelog topic."""
    return f"{app_id}-{table}-changelog"


class TopicError(PathwatchError):
    """The cluster could not be reached, or a topic could not be created."""


@dataclass(frozen=True, slots=True)
class TopicReport:
    name: str
    created: bool  # False: it already existed
    partitions: int


def create_topics(
    bootstrap: str | None = None,
    partitions: int = DEFAULT_PARTITIONS,
    prefix: str = "",
    *,
    names: Iterable[str] = ALL_TOPICS,
    settings: Settings | None = None,
    timeout_s: float = 30.0,
    config: Mapping[str, str] = TOPIC_CONFIG,
) -> list[TopicReport]:
    """Create `prefix + name` for each name; topics that already exist are left as they are.

    Replication is the cluster's default (`default.replication.factor`), so the same call
    suits the single-node embedded broker and a production cluster.
    """
    settings = settings or Settings.from_env()
    if bootstrap:
        settings = settings.with_bootstrap(bootstrap)
    wanted = [prefix + name for name in names]
    spec = {"num_partitions": partitions, "configs": dict(config)}
    timeout_ms = int(timeout_s * 1000)
    with admin_client(settings, bootstrap_timeout_s=10.0, request_timeout_s=timeout_s) as admin:
        existing = set(admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            response = admin.create_topics(
                {name: spec for name in missing}, timeout_ms=timeout_ms, raise_errors=False
            )
            _raise_for_errors(response)
        admin.wait_for_topics(wanted, timeout_ms=timeout_ms)
        counts = {d["name"]: len(d["partitions"]) for d in admin.describe_topics(wanted)}
    reports = [TopicReport(name, name in missing, counts.get(name, 0)) for name in wanted]
    for report in reports:
        if report.partitions != partitions:
            log.warning(
                "topic %s has %d partitions, not %d", report.name, report.partitions, partitions
            )
    return reports


_TOPIC_ALREADY_EXISTS = 36


def _raise_for_errors(response: dict[str, Any]) -> None:
    failures = [
        f"{t['name']}: {t.get('error_message') or 'error code ' + str(t['error_code'])}"
        for t in response.get("topics", [])
        if t["error_code"] not in (0, _TOPIC_ALREADY_EXISTS)  # a concurrent creator won the race
    ]
    if failures:
        raise TopicError("could not create topics: " + "; ".join(failures))


@contextmanager
def admin_client(
    settings: Settings, *, bootstrap_timeout_s: float = 10.0, request_timeout_s: float = 30.0
) -> Iterator[KafkaAdminClient]:
    """A kafka-python admin client; connection refusals while bootstrapping are not logged."""
    from kafka import KafkaAdminClient  # deferred so `pathwatch --help` stays fast
    from kafka.errors import KafkaError

    kafka_log = logging.getLogger("kafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL + 1)  # each refused attempt would log an ERROR
    try:
        admin = KafkaAdminClient(
            **settings.kafka_client_kwargs(),
            client_id="pathwatch-admin",
            bootstrap_timeout_ms=int(bootstrap_timeout_s * 1000),
            request_timeout_ms=int(request_timeout_s * 1000),
        )
    except Exception as exc:
        raise TopicError(f"cannot reach Kafka at {settings.bootstrap}: {exc}") from exc
    finally:
        kafka_log.setLevel(level)
    try:
        yield admin
    except KafkaError as exc:  # e.g. a timeout: the operator gets a message, not a traceback
        raise TopicError(f"Kafka at {settings.bootstrap}: {exc}") from exc
    finally:
        admin.close()
