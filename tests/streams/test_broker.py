"""The embedded broker's configuration, as written to its folder (no JVM started)."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import pytest

from streams.broker import Broker


class _Extra(TypedDict, total=False):
    first_join_wait_ms: int


def _properties(folder: Path) -> dict[str, str]:
    lines = (folder / "server.properties").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.mark.parametrize(("wait_ms", "written"), [(None, "0"), (3000, "3000")])
def test_first_join_wait_is_the_group_initial_rebalance_delay(
    tmp_path: Path, wait_ms: int | None, written: str
) -> None:
    folder = tmp_path / "broker"
    folder.mkdir()
    extra: _Extra = {} if wait_ms is None else {"first_join_wait_ms": wait_ms}
    Broker(folder, 19092, 19093, **extra)._write_config()

    assert _properties(folder)["group.initial.rebalance.delay.ms"] == written
