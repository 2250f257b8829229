"""Table writes: the local store changes at once, the changelog gets each key's latest value
when the handler flushes, on the partition of the message that wrote it."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from streams.tables import TableWrites


class _Store:
    def __init__(self) -> None:
        self.data: dict[bytes, Any] = {}
        self._key_partition: dict[bytes, int] = {}


class _Topic:
    def get_topic_name(self) -> str:
        return "app-units-changelog"


class _Table:
    def __init__(self) -> None:
        self.data = _Store()
        self.changelog_topic = _Topic()


class _Sends:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, int | None]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes | None,
                   partition: int | None = None, headers: Any = None) -> None:
        self.sent.append((topic, key, value, partition))


def _writes() -> tuple[TableWrites, _Table, _Sends]:
    table, sends = _Table(), _Sends()
    return TableWrites(table, sends), table, sends  # type: ignore[arg-type]


def test_a_write_is_read_back_at_once_and_sent_at_the_flush() -> None:
    writes, table, sends = _writes()
    view = writes.partition(3)
    view["U1"] = {"status": "unit.enroute"}
    assert view.get("U1") == {"status": "unit.enroute"} and view["U1"] is table.data.data[b"U1"]
    assert sends.sent == []
    asyncio.run(writes.flush())
    assert sends.sent == [("app-units-changelog", b"U1", b'{"status":"unit.enroute"}', 3)]
    assert table.data._key_partition == {b"U1": 3}  # as Faust's recovery records it


def test_several_writes_of_a_key_are_one_message_with_the_latest_value() -> None:
    writes, _, sends = _writes()
    view = writes.partition(1)
    for n in range(5):
        view["U1"] = {"fix": n}
    view["U2"] = {"fix": 9}
    asyncio.run(writes.flush())
    assert [(key, orjson.loads(value or b"null")) for _, key, value, _ in sends.sent] == [
        (b"U1", {"fix": 4}), (b"U2", {"fix": 9})]
    asyncio.run(writes.flush())
    assert len(sends.sent) == 2, "nothing written since: nothing sent"


def test_a_deleted_key_is_a_tombstone() -> None:
    writes, table, sends = _writes()
    view = writes.partition(0)
    view["U1"] = {"fix": 1}
    del view["U1"]
    assert view.get("U1") is None and len(view) == 0
    asyncio.run(writes.flush())
    assert sends.sent == [("app-units-changelog", b"U1", None, 0)]


def test_keys_read_back_as_text() -> None:
    writes, table, _ = _writes()
    table.data.data[b"H1"] = {"x": 1}  # as recovery fills it
    view = writes.partition(0)
    assert list(view) == ["H1"] and view.items() == [("H1", {"x": 1})]
