"""The worker's tables as its handlers see them: a mapping with str keys per partition, whose
changelog messages are sent after the handler, one per key written.

A Faust table sends a changelog message on every assignment, through Faust's topic machinery
(~210 us of CPU a message on the bench machine, streams/producer.py). Here an assignment
changes the local store at once and marks the key; `flush` sends each marked key's latest
value to the changelog (JSON, as the table's own codec writes it; Faust reads it back on
recovery). The agents flush before they acknowledge the messages handled, so a committed
offset never runs ahead of the changelog; and several writes of one key in a batch (a unit
moving) are one message.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

from streams.producer import DirectProducer


class TableWrites:
    """One Faust table (raw bytes keys, JSON values, memory store) and its pending changelog
    messages."""

    def __init__(self, table: Any, sends: DirectProducer) -> None:
        self._table = table
        self._sends = sends
        self._dirty: dict[bytes, int] = {}  # key -> partition of its changelog message

    def partition(self, partition: int) -> PartitionTable:
        """The table as a handler of a message of `partition` writes it: the changelog
        partition of a key is that of the message that wrote it, as in Faust."""
        return PartitionTable(self, partition)

    def items(self) -> list[tuple[str, Any]]:
        return [(_text(k), v) for k, v in self._values().items()]

    async def flush(self) -> None:
        """Send the changelog message of every key written since the last flush."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        topic = self._table.changelog_topic.get_topic_name()
        values = self._values()
        for key, partition in dirty.items():
            value = values.get(key)
            body = None if value is None else orjson.dumps(value)  # None: deleted
            await self._sends.send(topic, key, body, partition)

    def _values(self) -> dict[bytes, Any]:
        # the memory store's dict (what Faust's recovery fills); Table.__getitem__ and friends
        # add sensor calls per access
        values: dict[bytes, Any] = self._table.data.data
        return values

    def _set(self, key: bytes, value: Any, partition: int) -> None:
        self._values()[key] = value
        self._table.data._key_partition[key] = partition  # as recovery records it
        self._dirty[key] = partition

    def _delete(self, key: bytes, partition: int) -> None:
        del self._values()[key]
        self._table.data._key_partition.pop(key, None)
        self._dirty[key] = partition


class PartitionTable(MutableMapping[str, Any]):
    """A table seen with str keys, written from one partition."""

    __slots__ = ("_partition", "_writes")

    def __init__(self, writes: TableWrites, partition: int) -> None:
        self._writes = writes
        self._partition = partition

    def get(self, key: str, default: Any = None) -> Any:
        return self._writes._values().get(key.encode(), default)

    def __getitem__(self, key: str) -> Any:
        return self._writes._values()[key.encode()]

    def __setitem__(self, key: str, value: Any) -> None:
        self._writes._set(key.encode(), value, self._partition)

    def __delitem__(self, key: str) -> None:
        self._writes._delete(key.encode(), self._partition)

    def __iter__(self) -> Iterator[str]:
        return (_text(k) for k in list(self._writes._values()))

    def __len__(self) -> int:
        return len(self._writes._values())

    def items(self) -> Any:  # one pass over the store, not a lookup per key
        return self._writes.items()


def _text(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)
