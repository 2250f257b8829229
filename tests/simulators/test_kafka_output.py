"""`pathwatch import` / `pathwatch simulate` to a real broker: contract topics and keys."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from kafka import KafkaConsumer

from pathways.events import TOPIC_OF_TYPE, ParseError, parse
from simulators.sinks import partition_key
from streams.cli import main
from streams.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"


def _consume(settings: Settings, prefix: str, expected: int) -> list[tuple[str, bytes, bytes]]:
    topics = sorted({prefix + t for t in TOPIC_OF_TYPE.values()})
    consumer = KafkaConsumer(*topics, auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=10_000, **settings.kafka_client_kwargs())
    got: list[tuple[str, bytes, bytes]] = []
    try:
        for record in consumer:
            got.append((record.topic.removeprefix(prefix), record.key, record.value))
            if len(got) >= expected:
                break
    finally:
        consumer.close()
    return got


def _check_routing(got: list[tuple[str, bytes, bytes]]) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for topic, key, value in got:
        event = parse(value)
        if isinstance(event, ParseError):
            kinds["malformed"] += 1
            continue
        kinds[event.type] += 1
        assert topic == TOPIC_OF_TYPE[event.type]
        assert key.decode() == partition_key(event), (event.type, key)
    return kinds


def test_import_to_kafka(kafka_settings: Settings, kafka_topics: str, tmp_path: Path) -> None:
    csv_path, mapping = FIXTURES / "tiny_cad.csv", FIXTURES / "tiny_mapping.json"
    reference = tmp_path / "ref.jsonl"
    assert main(["import", "csv", "--mapping", str(mapping), str(csv_path),
                 "--out", str(reference)]) == 0
    assert main(["import", "csv", "--mapping", str(mapping), str(csv_path),
                 "--bootstrap", kafka_settings.bootstrap, "--topic-prefix", kafka_topics]) == 0
    lines = reference.read_bytes().splitlines()
    got = _consume(kafka_settings, kafka_topics, len(lines))
    assert sorted(v for _, _, v in got) == sorted(lines)
    assert _check_routing(got)["unit.assigned"] == 3


def test_simulate_to_kafka_with_malformed(kafka_settings: Settings, kafka_topics: str,
                                          tmp_path: Path) -> None:
    args = ["simulate", "--seed", "8", "--start", "2026-11-24T08:00:00+08:00",
            "--duration", "20m", "--malformed", "0.02"]
    reference = tmp_path / "ref.jsonl"
    assert main([*args, "--out", str(reference)]) == 0
    assert main([*args, "--bootstrap", kafka_settings.bootstrap,
                 "--topic-prefix", kafka_topics]) == 0
    lines = reference.read_bytes().splitlines()
    got = _consume(kafka_settings, kafka_topics, len(lines))
    assert sorted(v for _, _, v in got) == sorted(lines)
    kinds = _check_routing(got)
    assert kinds["malformed"] > 0 and kinds["gps.fix"] > 0
