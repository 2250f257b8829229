"""The incident table value survives the JSON round trip of the changelog."""

from __future__ import annotations

import orjson

from pathways import prealerts
from streams.incident_record import IncidentRecord
from tests.integration.scenarios import stemi_bypass
from tests.streams.harness import MemoryPipeline, run


def test_record_round_trips_through_json() -> None:
    pipe = MemoryPipeline()
    run(pipe.send(stemi_bypass().events[:20]))  # departed, pre-alerted, ETA known
    stored = pipe.incident_table["stemi-1"]
    record = IncidentRecord.load(orjson.loads(orjson.dumps(stored)), "stemi-1")
    assert record.book.open and record.eta is not None and record.advice is not None
    assert isinstance(record.eta, prealerts.Eta)
    again = record.dump(None)
    assert orjson.loads(orjson.dumps(again)) == orjson.loads(orjson.dumps({**stored, "due": None}))
