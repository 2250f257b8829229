"""Every metric a dashboard or an alerting rule uses is exported by a worker, with the labels
the query selects or groups by; and the rules file is well formed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from pathways.outputs import Alert, IntervalRecord, PreAlert, to_json
from streams.metrics import Metrics, install_faust_sensors

_IDENT = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(rf"({_IDENT})\s*\{{([^}}]*)\}}")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
SYNTHETIC = {"up": {"job", "instance"}}  # made by Prometheus itself
ALWAYS = {"job", "instance", "le"}
_DURATION = re.compile(r"^\d+(ms|s|m|h|d|w|y)$")


def metric_names(expr: str) -> set[str]:
    """Metric names of a PromQL expression (not functions, keywords or label names)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    names = set()
    for match in re.finditer(rf"({_IDENT})(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names


def label_uses(expr: str) -> Iterator[tuple[str | None, str]]:
    """(metric or None for a grouping, label) pairs the expression depends on."""
    for metric, matchers in _SELECTOR.findall(expr):
        for label in re.findall(rf"({_IDENT})\s*(?:=~|!~|!=|=)", matchers):
            yield metric, label
    for _, labels in _GROUPING.findall(expr):
        for label in re.findall(_IDENT, labels):
            yield None, label


def test_the_reader_finds_names_not_functions() -> None:
    expr = (
        'histogram_quantile(0.9, sum by (le, area_type) (rate(a_bucket{x="y{z}"}[5m])))'
        " / on(job) group_left() b_total > bool 3 and up"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "up"}
    assert set(label_uses(expr)) >= {("a_bucket", "x"), (None, "area_type"), (None, "job")}


@pytest.fixture(scope="module")
def exported() -> dict[str, set[str]]:
    """Sample name -> label names of a registry populated as a worker populates it."""
    import faust

    from streams.web.board import Board
    from streams.web.board_metrics import BoardCollector

    registry = CollectorRegistry()
    metrics = Metrics(registry)
    board = Board()
    day = datetime(2026, 11, 24, 10, tzinfo=timezone(timedelta(hours=8)))
    for area in ("urban", "county"):
        interval = IntervalRecord(
            incident_id=f"I-{area}",
            interval="call_to_departure",
            start_ts=day,
            end_ts=day,
            seconds=100,
            target_s=180,
            met=True,
            pathway="chest_pain",
            triage_level=1,
            district_id="D01",
            area_type=area,
            hospital_id="H01",
            unit_id="U1",
            revision=1,
            quality_flags=("clock_skew",),
        )
        metrics.observe_interval(interval)
        board.apply_interval(to_json(interval))
    metrics.count_alert(Alert(alert_id="a", kind="breach", incident_id="I", at_ts=day))
    metrics.count_prealert(
        PreAlert(
            prealert_id="p",
            state="new",
            sequence=1,
            hospital_id="H01",
            incident_id="I",
            unit_id=None,
            sent_ts=day,
            eta_ts=None,
        )
    )
    metrics.count_deadletter("invalid_json", "dispatch.calls")
    metrics.count_event("dispatch.gps")
    metrics.observe_event_lag("dispatch.gps", 1.0)
    metrics.count_sent("pathwatch.intervals")
    registry.register(BoardCollector(board))
    install_faust_sensors(faust.App("deploy-test"), registry)
    names: dict[str, set[str]] = {}
    for family in registry.collect():
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
        if family.name.startswith("faust_") and not family.samples:
            # Faust's labelled series appear once a consumer has partitions: declared is enough
            suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
            for suffix in suffixes.get(family.type, [""]):
                names.setdefault(
                    family.name + suffix,
                    {"topic", "partition", "operation", "stream", "table", "metric", "status_code"},
                )
    return names


def _dashboard_exprs(root: Path) -> Iterator[tuple[str, str]]:
    def walk(panels: list[dict[str, Any]], board: str) -> Iterator[tuple[str, str]]:
        for panel in panels:
            for target in panel.get("targets", []):
                yield f"{board}: {panel['title']}", target["expr"]
            yield from walk(panel.get("panels", []), board)

    for path in sorted((root / "deploy/grafana/dashboards").glob("*.json")):
        yield from walk(json.loads(path.read_text(encoding="utf-8"))["panels"], path.name)


def _rules(root: Path) -> list[dict[str, Any]]:
    loaded = yaml.safe_load((root / "deploy/prometheus/rules.yml").read_text(encoding="utf-8"))
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def _all_exprs(root: Path) -> list[tuple[str, str]]:
    rules = [(f"rule {r.get('alert') or r.get('record')}", str(r["expr"])) for r in _rules(root)]
    return list(_dashboard_exprs(root)) + rules


def test_every_metric_used_is_exported(root: Path, exported: dict[str, set[str]]) -> None:
    used = _all_exprs(root)
    assert len(used) > 30  # three dashboards and the rules
    missing = [
        (where, name)
        for where, expr in used
        for name in metric_names(expr)
        if name not in exported and name not in SYNTHETIC
    ]
    assert not missing


def test_every_label_used_exists(root: Path, exported: dict[str, set[str]]) -> None:
    every_label = set().union(*exported.values(), *SYNTHETIC.values(), ALWAYS)
    wrong = []
    for where, expr in _all_exprs(root):
        for metric, label in label_uses(expr):
            labels = exported.get(metric or "", every_label) | SYNTHETIC.get(metric or "", set())
            if label not in labels | ALWAYS:
                wrong.append((where, metric, label))
    assert not wrong


def test_dashboards_cover_the_issue(root: Path) -> None:
    exprs = " ".join(expr for _, expr in _dashboard_exprs(root))
    for interval in (
        "call_to_departure",
        "response",
        "door_to_balloon",
        "stroke_door_to_needle",
        "stroke_door_to_puncture",
        "stroke_door_to_ct",
        "trauma_door_to_or",
        "prealert_lead",
    ):
        assert f'"{interval}"' in exprs or interval in exprs, interval
    for metric in (
        "pathwatch_units",
        "pathwatch_deadletters_total",
        "faust_total_rebalances",
        "pathwatch_event_lag_seconds",
    ):
        assert metric in exprs


def test_rules_are_well_formed(root: Path) -> None:
    rules = _rules(root)
    alerts = [r["alert"] for r in rules if "alert" in r]
    assert len(alerts) == len(set(alerts))
    for rule in rules:
        assert ("alert" in rule) != ("record" in rule)
        expr = str(rule["expr"]).strip()
        assert expr and expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}")
        assert _DURATION.match(str(rule.get("for", "0s"))), rule
        for key in ("labels", "annotations"):
            assert all(isinstance(v, str) for v in (rule.get(key) or {}).values())
        if "alert" in rule:
            assert rule["labels"]["severity"] in ("info", "warning", "critical")
            assert rule["annotations"]["summary"]
    names = " ".join(alerts)
    for wanted in ("CallToDeparture", "DeadLetters", "ConsumerLag", "NoEvents"):
        assert wanted in names


def test_promtool_accepts_the_rules_when_installed(root: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:  # the schema test above stands in; Debian's `prometheus` has promtool
        return
    result = subprocess.run(
        [promtool, "check", "rules", str(root / "deploy/prometheus/rules.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
