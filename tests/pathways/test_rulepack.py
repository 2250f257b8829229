"""Rule packs are data: both bundled packs load, and bad packs fail with a clear message."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from pathways.engine import Engine, IncidentState
from pathways.outputs import IntervalRecord
from pathways.rulepack import RulePackError, load_pack, parse_pack
from tests.pathways.factory import at, stemi_incident


def cn_json() -> dict[str, Any]:
    text = (resources.files("pathways") / "packs" / "cn.json").read_text(encoding="utf-8")
    pack: dict[str, Any] = json.loads(text)
    return pack


def final(pack_name: str) -> dict[str, IntervalRecord]:
    engine = Engine(load_pack(pack_name))
    state: IncidentState | None = None
    latest: dict[str, IntervalRecord] = {}
    for e in stemi_incident():
        state, out = engine.apply(state, e, at(500))
        latest.update({o.interval: o for o in out if isinstance(o, IntervalRecord)})
    return latest


def test_nfpa_aha_pack_changes_targets_and_catalog() -> None:
    cn, us = final("cn"), final("nfpa_aha")
    assert cn["call_processing"].target_s == 60 and us["call_processing"].target_s == 60
    assert (cn["turnout"].target_s, us["turnout"].target_s) == (180, 60)
    assert (cn["travel"].target_s, us["travel"].target_s) == (None, 240)
    assert us["travel"].met is False  # 10 min travel against NFPA's 4 min
    assert us["door_to_device"].seconds == 64 * 60 and us["door_to_device"].target_s == 5400
    assert us["fmc_to_device"].seconds == 98 * 60 and us["fmc_to_device"].met is False
    assert "door_to_balloon" in cn and "door_to_balloon" not in us
    assert us["response"].target_s is None
    assert load_pack("nfpa_aha").timezone.key == "America/New_York"


def test_pack_from_a_file_path(tmp_path: Path) -> None:
    obj = cn_json()
    obj["name"] = "mine"
    obj["intervals"][0]["target"] = 4
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(obj))
    pack = load_pack(path)
    assert pack.name == "mine" and pack.interval("call_to_departure").target.default_s == 240


def expect_error(obj: dict[str, Any], *fragments: str) -> None:
    with pytest.raises(RulePackError) as info:
        parse_pack(json.dumps(obj), "test.json")
    for fragment in ("test.json", *fragments):
        assert fragment in str(info.value)


def test_unknown_milestone_names_interval_and_milestone() -> None:
    obj = cn_json()
    obj["intervals"][3]["end"] = "unit.on_scen"
    expect_error(obj, "intervals[3] (response).end", "unknown milestone 'unit.on_scen'")


def test_unknown_qualifier_and_role_misuse() -> None:
    obj = cn_json()
    obj["intervals"][0]["start"] = "second:call.received"
    expect_error(obj, "qualifier 'second'")
    obj = cn_json()
    obj["intervals"][0]["start"] = "transporting:call.received"
    expect_error(obj, "unit role needs a unit.* event type")


def test_bad_json_reports_the_line() -> None:
    with pytest.raises(RulePackError, match=r"bad.json: invalid JSON at line 2"):
        parse_pack('{"name": "x",\n  "intervals": [}', "bad.json")


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        (("timezone",), "Mars/Olympus", "unknown time zone"),
        (("time_unit",), "hours", "time_unit"),
        (("approaching_share",), 1.5, "approaching_share"),
        (("intervals", 0, "pathways"), ["cardiac"], "unknown pathway"),
        (("intervals", 0, "target"), -3, "non-negative number"),
        (("intervals", 0, "statistics"), [{"stat": "mode"}], "statistics[0].stat"),
        (("intervals", 0, "deadline_if"), "pregnant", "unknown fact"),
        (("intervals", 3, "target", "by"), "weather", "target.by"),
        (("missing", 0, "within"), None, "missing[0].within"),
    ],
)
def test_invalid_values_are_named(path: tuple[Any, ...], value: Any, fragment: str) -> None:
    obj = cn_json()
    holder: Any = obj
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    expect_error(obj, fragment)


def test_duplicate_interval_names_are_rejected() -> None:
    obj = cn_json()
    obj["intervals"].append(obj["intervals"][0])
    expect_error(obj, "unique")


def test_unknown_bundled_pack() -> None:
    with pytest.raises(RulePackError, match="no such pack"):
        load_pack("atlantis")


def test_alias_door_resolves_to_alternatives() -> None:
    rule = load_pack("cn").interval("door_to_balloon")
    assert rule.start == ("hospital.arrived", "transporting:unit.at_destination")
