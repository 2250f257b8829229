"""The one narrow interface the agents report through; `streams.metrics.Metrics` implements it.

Agents call these methods and nothing else, so swapping the no-op for Prometheus (or a
test recorder) is one argument to `create_app`.
"""

from __future__ import annotations

from typing import Protocol

from pathways.outputs import Alert, IntervalRecord, PreAlert


class Telemetry(Protocol):
    def observe_interval(self, record: IntervalRecord) -> None: ...

    def count_alert(self, alert: Alert) -> None: ...

    def count_prealert(self, prealert: PreAlert) -> None: ...

    def count_deadletter(self, reason: str, topic: str) -> None: ...

    def count_event(self, topic: str) -> None: ...

    def observe_event_lag(self, topic: str, seconds: float) -> None: ...

    def count_sent(self, topic: str) -> None: ...


class NoTelemetry:
    def observe_interval(self, record: IntervalRecord) -> None:
        return None

    def count_alert(self, alert: Alert) -> None:
        return None

    def count_prealert(self, prealert: PreAlert) -> None:
        return None

    def count_deadletter(self, reason: str, topic: str) -> None:
        return None

    def count_event(self, topic: str) -> None:
        return None

    def observe_event_lag(self, topic: str, seconds: float) -> None:
        return None

    def count_sent(self, topic: str) -> None:
        return None
