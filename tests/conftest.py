"""Session-wide fixtures: one real Kafka broker per test session, started only when a test asks.

- `kafka_bootstrap`: `host:port` of the session's broker. The embedded broker (streams.broker)
  in a temporary folder on free ports, or the cluster named by `PATHWATCH_BOOTSTRAP` when that
  variable is set (security settings from `PATHWATCH_KAFKA_*` apply to clients then).
- `kafka_settings`: `Settings` pointing at that broker.
- `topic_prefix`: unique per test, so tests never share topics or consumer groups.
- `kafka_topics`: the contract's topics created under the test's prefix; returns the prefix.

Tests using the broker are marked `integration` automatically (`-m "not integration"` skips
them); tests marked `soak` run only with `--soak`.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator

import pytest

from streams.broker import Broker, free_ports
from streams.settings import Settings
from streams.topics import create_topics

BROKER_FIXTURES = {"kafka_bootstrap", "kafka_settings", "kafka_topics"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", help="also run long tests marked `soak`")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_soak = pytest.mark.skip(reason="soak test: run with --soak")
    for item in items:
        if BROKER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
        if "soak" in item.keywords and not config.getoption("--soak"):
            item.add_marker(skip_soak)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("PATHWATCH_BOOTSTRAP", "").strip()
    if external:
        yield external
        return
    port, controller_port = free_ports(2)
    broker = Broker(tmp_path_factory.mktemp("kafka"), port, controller_port)
    started = time.monotonic()
    # tie_to_parent: the JVM dies with pytest even when pytest is killed outright
    broker.start(timeout=120, tie_to_parent=True)
    print(f"\nembedded Kafka {broker.version} at {broker.bootstrap} "
          f"ready in {time.monotonic() - started:.1f}s ({broker.data_dir})")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_settings(kafka_bootstrap: str) -> Settings:
    """Client settings: the environment's for an external cluster, PLAINTEXT for ours."""
    if os.environ.get("PATHWATCH_BOOTSTRAP", "").strip():
        return Settings.from_env()
    return Settings(bootstrap=kafka_bootstrap)


@pytest.fixture
def topic_prefix(request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^A-Za-z0-9-]+", "-", request.node.name).strip("-")[:40]
    return f"t-{name}-{uuid.uuid4().hex[:8]}."


@pytest.fixture
def kafka_topics(kafka_settings: Settings, topic_prefix: str) -> str:
    create_topics(settings=kafka_settings, prefix=topic_prefix)
    return topic_prefix
