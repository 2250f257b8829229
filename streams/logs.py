"""Structured JSON logs that carry no patient data.

Decision: log records never contain incident, unit or patient identifiers, clinical values,
locations or message bodies. Where an operator must correlate log lines with a case, the
incident id appears only as `incident_ref`, a truncated salted SHA-256 (`ref()`); the salt
is per deployment (`PATHWATCH_LOG_SALT`), so the reference cannot be reversed by hashing
candidate ids without it. Kafka coordinates (topic, partition, offset) and reason codes
are not patient data and are logged as they are.
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Any

import orjson

_SAFE_FIELDS = (
    "event",
    "reason",
    "topic",
    "partition",
    "offset",
    "count",
    "incident_ref",
    "kind",
    "app_id",
    "clock",
    "seconds",
    "ingested",
    "unit_messages",
    "incident_messages",
)


def ref(identifier: str | None) -> str | None:
    """A stable, non-reversible short reference for an id (for correlating log lines)."""
    if identifier is None:
        return None
    salt = os.environ.get("PATHWATCH_LOG_SALT", "pathwatch")
    return hashlib.sha256((salt + "\0" + identifier).encode()).hexdigest()[:12]


class JsonFormatter(logging.Formatter):
    """One JSON object per line; only whitelisted `extra` fields are kept."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _SAFE_FIELDS:
            if name in record.__dict__:
                out[name] = record.__dict__[name]
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = record.exc_info[0].__name__  # the type only: args may hold values
        return orjson.dumps(out, default=str).decode()


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the worker (Faust installs it at start)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "streams.logs.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": level},
    }
