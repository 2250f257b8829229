"""Which incidents have a deadline moment due: a timer wheel for deadline sweeps.

A sweep must not look at every open incident (thousands on a busy day, swept once a second
and, in event time, before every event); a heap keyed by each incident's next moment gives
the due ones in O(log n) each. An incident's moment can be moved or cleared at any time: the
heap keeps stale entries and skips them when they surface.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime


class DueIndex:
    def __init__(self) -> None:
        self._moment: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []

    def set(self, incident_id: str, moment: datetime | None) -> None:
        """The incident's next moment (None: nothing can become due)."""
        if moment is None:
            self._moment.pop(incident_id, None)
            return
        if self._moment.get(incident_id) == moment:
            return
        self._moment[incident_id] = moment
        heapq.heappush(self._heap, (moment, incident_id))
        if len(self._heap) > 4 * len(self._moment) + 64:
            self._compact()

    def pop_due(self, now: datetime) -> str | None:
        """An incident whose moment is at or before `now`, removed from the index (its sweep
        sets the next moment), or None when none is due. One at a time: a sweep that fails
        half-way leaves the others due."""
        while self._heap and self._heap[0][0] <= now:
            moment, incident_id = heapq.heappop(self._heap)
            if self._moment.get(incident_id) == moment:
                del self._moment[incident_id]
                return incident_id
        return None

    def get(self, incident_id: str) -> datetime | None:
        return self._moment.get(incident_id)

    def __len__(self) -> int:
        return len(self._moment)

    def __iter__(self) -> Iterator[str]:
        return iter(self._moment)

    def _compact(self) -> None:
        self._heap = [(m, i) for i, m in self._moment.items()]
        heapq.heapify(self._heap)
