"""Today's KPI tiles: count, mean, p90 and share within target of an interval, by area type.

"Today" is the latest local day (the date written in the records' own end timestamps) seen in
event time; a revision replaces its earlier value, a redelivery changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class _Value:
    revision: int
    seconds: float
    met: bool | None
    area_type: str
    district_id: str


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (the rank a chest-pain-center report uses)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


class DayKpis:
    def __init__(self) -> None:
        self.day = ""
        self._values: dict[tuple[str, str], _Value] = {}

    def add(self, record: Mapping[str, Any]) -> None:
        day = str(record.get("end_ts", ""))[:10]
        if day < self.day:
            return
        if day > self.day:
            self.day, self._values = day, {}
        key = (str(record["interval"]), str(record["incident_id"]))
        revision = int(record.get("revision", 1))
        earlier = self._values.get(key)
        if earlier is not None and earlier.revision >= revision:
            return
        self._values[key] = _Value(
            revision,
            float(record["seconds"]),
            record.get("met"),
            str(record.get("area_type") or ""),
            str(record.get("district_id") or ""),
        )

    def summary(
        self, interval: str, *, area_type: str | None = None, district_id: str | None = None
    ) -> dict[str, Any]:
        chosen = [
            v
            for (name, _), v in self._values.items()
            if name == interval
            and (area_type is None or v.area_type == area_type)
            and (district_id is None or v.district_id == district_id)
        ]
        seconds = [v.seconds for v in chosen]
        judged = [v.met for v in chosen if v.met is not None]
        return {
            "count": len(seconds),
            "mean_s": sum(seconds) / len(seconds) if seconds else None,
            "p90_s": percentile(seconds, 90) if seconds else None,
            "within_share": sum(judged) / len(judged) if judged else None,
        }
