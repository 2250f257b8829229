"""Helpers of the deployment checks: the repository root and a PromQL metric-name reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def _load(name: str, path: Path) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


live_worker: Any = _load("live_worker_deploy", ROOT / "tests/e2e/live_worker.py")


@pytest.fixture
def worker_url(kafka_settings: Any, kafka_topics: str, tmp_path: Path) -> Any:
    """A live worker on this test's topics (wall clock)."""
    from streams.broker import free_ports
    from streams.web.access import Tokens

    tokens = Tokens("deploy-wall-token-0123", {"H01": "deploy-h01-token-0123"})
    with live_worker.running_worker(
        kafka_settings, kafka_topics, tmp_path, free_ports(1)[0], tokens, clock="wall"
    ) as url:
        yield url
