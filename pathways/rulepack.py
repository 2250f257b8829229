"""Rule packs: the interval catalog, targets and statistic rules, loaded from JSON at run time.

A milestone is written `[qualifier:]event_type` (see `pathways.timeline.QUALIFIERS`) or names
an alias from the pack's `milestones` (e.g. `door`). Durations in a pack are in its
`time_unit` ("min" or "s"); once loaded everything is seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pathways import timeline as tl

TARGET_ATTRIBUTES = frozenset({"area_type", "pathway", "triage_level", "transfer"})
STATISTICS = frozenset({"mean", "share_within", "percentile", "median"})
PERIODS = frozenset({"day", "month"})


class RulePackError(ValueError):
    """A pack that cannot be used; the message names the pack and the offending place."""


@dataclass(frozen=True, slots=True)
class Target:
    """A target in seconds, fixed or chosen by an incident attribute (e.g. area_type)."""

    default_s: float | None
    by: str | None = None
    values_s: tuple[tuple[str, float], ...] = ()

    def for_attribute(self, value: str | None) -> tuple[float | None, bool]:
        """(target_s, known): known is False when `by` is set and `value` has no entry."""
        if self.by is None:
            return self.default_s, True
        for key, seconds in self.values_s:
            if key == value:
                return seconds, True
        return self.default_s, value is not None


@dataclass(frozen=True, slots=True)
class StatisticRule:
    """One test on a bucket: mean <= max_s, share within T >= min_share, Pp <= max_s.

    A share_within rule without `min_share` is informational: the share is reported, no verdict.

    `max_s` None with stat mean/percentile means "the records' own target"; `within_s` None
    with share_within means "each record's own target (its `met`)".
    """

    stat: str
    max_s: float | None = None
    within_s: float | None = None
    min_share: float | None = None
    p: float = 50.0
    period: str | None = None  # None: evaluated for days and months

    def describe(self) -> str:
        limit = "target" if self.max_s is None else f"{self.max_s:g}s"
        if self.stat == "mean":
            return f"mean<={limit}"
        if self.stat == "share_within":
            within = "target" if self.within_s is None else f"{self.within_s:g}s"
            floor = "" if self.min_share is None else f">={self.min_share:.0%}"
            return f"share<={within}{floor}"
        return f"p{self.p:g}<={limit}"


@dataclass(frozen=True, slots=True)
class IntervalRule:
    name: str
    start: tuple[str, ...]  # alternatives, first found wins
    end: tuple[str, ...]
    pathways: frozenset[str] | None  # None: every pathway
    target: Target
    statistics: tuple[StatisticRule, ...] = ()
    deadline_if: str | None = None  # a timeline fact that must hold before deadlines alert
    max_duration_s: float | None = None
    label: str = ""
    deadline: bool = True  # False: measured and reported, never alerted while open

    def applies_to(self, pathway: str) -> bool:
        return self.pathways is None or pathway in self.pathways


@dataclass(frozen=True, slots=True)
class MissingRule:
    """`expect` should follow `after` within `within_s`, else a missing_milestone alert."""

    name: str
    after: tuple[str, ...]
    expect: tuple[str, ...]
    within_s: float
    pathways: frozenset[str] | None = None

    def applies_to(self, pathway: str) -> bool:
        return self.pathways is None or pathway in self.pathways


@dataclass(frozen=True, slots=True)
class QualityLimits:
    future_tolerance_s: float = 120.0
    max_duration_s: float = 24 * 3600.0
    skew_tolerance_s: float = 120.0


@dataclass(frozen=True, slots=True)
class RulePack:
    name: str
    timezone: ZoneInfo
    intervals: tuple[IntervalRule, ...]
    missing: tuple[MissingRule, ...] = ()
    approaching_share: float = 0.8
    quality: QualityLimits = QualityLimits()
    description: str = ""

    def interval(self, name: str) -> IntervalRule:
        for rule in self.intervals:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def with_timezone(self, zone: str) -> RulePack:
        return replace(self, timezone=_zone(zone, self.name))


def load_pack(name_or_path: str | Path) -> RulePack:
    """Load a bundled pack by name (`cn`, `nfpa_aha`) or any pack file by path."""
    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists():
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RulePackError(f"rule pack {where}: cannot read: {exc}") from None
    else:
        where = f"bundled pack {name_or_path!r}"
        bundled = resources.files("pathways") / "packs" / f"{name_or_path}.json"
        if not bundled.is_file():
            raise RulePackError(f"{where}: no such pack (try cn or nfpa_aha, or a file path)")
        text = bundled.read_text(encoding="utf-8")
    return parse_pack(text, where)


def parse_pack(text: str, where: str = "rule pack") -> RulePack:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RulePackError(f"{where}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise RulePackError(f"{where}: expected a JSON object at the top")
    return _Reader(obj, where).pack()


def _zone(name: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RulePackError(f"{where}: unknown time zone {name!r}") from None


class _Reader:
    """Validates a decoded pack; every error names the place it was found."""

    def __init__(self, obj: dict[str, Any], where: str) -> None:
        self.obj = obj
        self.where = where
        unit = obj.get("time_unit", "min")
        if unit not in ("min", "s"):
            self.fail("time_unit", f"expected 'min' or 's', got {unit!r}")
        self.scale = 60.0 if unit == "min" else 1.0
        self.aliases: dict[str, tuple[str, ...]] = {}

    def fail(self, place: str, why: str) -> NoReturn:
        raise RulePackError(f"{self.where}: {place}: {why}")

    def pack(self) -> RulePack:
        obj = self.obj
        name = self.text(obj.get("name"), "name")
        for alias, value in dict(obj.get("milestones", {})).items():
            self.aliases[str(alias)] = self.milestones(value, f"milestones.{alias}")
        intervals = tuple(
            self.interval(item, i) for i, item in enumerate(self.items("intervals"))
        )
        names = [rule.name for rule in intervals]
        if len(set(names)) != len(names):
            self.fail("intervals", "interval names must be unique")
        missing = tuple(self.missing(item, i) for i, item in enumerate(self.items("missing")))
        share = self.number(obj.get("approaching_share", 0.8), "approaching_share")
        if not 0 < share < 1:
            self.fail("approaching_share", "expected a share between 0 and 1")
        return RulePack(
            name=name,
            timezone=_zone(str(obj.get("timezone", "UTC")), self.where),
            intervals=intervals,
            missing=missing,
            approaching_share=share,
            quality=self.quality(obj.get("quality", {})),
            description=str(obj.get("description", "")),
        )

    def items(self, key: str) -> list[dict[str, Any]]:
        value = self.obj.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(key, "expected a list of objects")
        return list(value)

    def text(self, value: object, place: str) -> str:
        if not isinstance(value, str) or not value:
            self.fail(place, "expected a non-empty string")
        return value

    def number(self, value: object, place: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            self.fail(place, f"expected a non-negative number, got {value!r}")
        return float(value)

    def flag(self, value: object, place: str) -> bool:
        if not isinstance(value, bool):
            self.fail(place, f"expected true or false, got {value!r}")
        return value

    def duration(self, value: object, place: str) -> float:
        return self.number(value, place) * self.scale

    def milestones(self, value: object, place: str) -> tuple[str, ...]:
        options = [value] if isinstance(value, str) else value
        if not isinstance(options, list) or not options:
            self.fail(place, "expected a milestone name or a list of them")
        out: list[str] = []
        for option in options:
            if not isinstance(option, str):
                self.fail(place, f"expected a milestone name, got {option!r}")
            elif option in self.aliases:
                out.extend(self.aliases[option])
            else:
                problem = tl.check_milestone(option)
                if problem:
                    self.fail(place, problem)
                out.append(option)
        return tuple(out)

    def pathways(self, value: object, place: str) -> frozenset[str] | None:
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            self.fail(place, "expected a non-empty list of pathways")
        unknown = set(value) - tl.PATHWAYS
        if unknown:
            self.fail(place, f"unknown pathway {sorted(unknown)}; known: {sorted(tl.PATHWAYS)}")
        return frozenset(value)

    def target(self, value: object, place: str) -> Target:
        if value is None:
            return Target(None)
        if not isinstance(value, dict):
            return Target(self.duration(value, place))
        by = value.get("by")
        if by not in TARGET_ATTRIBUTES:
            self.fail(f"{place}.by", f"expected one of {sorted(TARGET_ATTRIBUTES)}")
        values = value.get("values")
        if not isinstance(values, dict) or not values:
            self.fail(f"{place}.values", "expected an object of attribute value -> target")
        default = value.get("default")
        return Target(
            default_s=None if default is None else self.duration(default, f"{place}.default"),
            by=str(by),
            values_s=tuple(
                (str(k), self.duration(v, f"{place}.values.{k}"))
                for k, v in values.items()
            ),
        )

    def statistic(self, value: dict[str, Any], place: str) -> StatisticRule:
        stat = value.get("stat")
        if stat not in STATISTICS:
            self.fail(f"{place}.stat", f"expected one of {sorted(STATISTICS)}, got {stat!r}")
        period = value.get("period")
        if period is not None and period not in PERIODS:
            self.fail(f"{place}.period", f"expected one of {sorted(PERIODS)}")
        limit = value.get("max", "target")
        within = value.get("within", "target")
        rule = StatisticRule(
            stat="percentile" if stat == "median" else str(stat),
            max_s=None if limit == "target" else self.duration(limit, f"{place}.max"),
            within_s=None if within == "target" else self.duration(within, f"{place}.within"),
            min_share=None,
            p=50.0 if stat == "median" else self.number(value.get("p", 50), f"{place}.p"),
            period=period,
        )
        if stat == "share_within" and value.get("min_share") is not None:
            share = self.number(value.get("min_share"), f"{place}.min_share")
            if share > 1:
                self.fail(f"{place}.min_share", "expected a share between 0 and 1")
            rule = replace(rule, min_share=share)
        if not 0 < rule.p <= 100:
            self.fail(f"{place}.p", "expected a percentile in (0, 100]")
        return rule

    def interval(self, item: dict[str, Any], index: int) -> IntervalRule:
        name = self.text(item.get("name"), f"intervals[{index}].name")
        place = f"intervals[{index}] ({name})"
        fact = item.get("deadline_if")
        if fact is not None and fact not in tl.FACTS:
            self.fail(f"{place}.deadline_if", f"unknown fact {fact!r}; known: {sorted(tl.FACTS)}")
        stats = item.get("statistics", [])
        if not isinstance(stats, list) or not all(isinstance(s, dict) for s in stats):
            self.fail(f"{place}.statistics", "expected a list of objects")
        max_duration = item.get("max_duration")
        return IntervalRule(
            name=name,
            start=self.milestones(item.get("start"), f"{place}.start"),
            end=self.milestones(item.get("end"), f"{place}.end"),
            pathways=self.pathways(item.get("pathways"), f"{place}.pathways"),
            target=self.target(item.get("target"), f"{place}.target"),
            statistics=tuple(
                self.statistic(s, f"{place}.statistics[{i}]") for i, s in enumerate(stats)
            ),
            deadline_if=fact,
            max_duration_s=None
            if max_duration is None
            else self.duration(max_duration, f"{place}.max_duration"),
            label=str(item.get("label", "")),
            deadline=self.flag(item.get("deadline", True), f"{place}.deadline"),
        )

    def missing(self, item: dict[str, Any], index: int) -> MissingRule:
        place = f"missing[{index}]"
        return MissingRule(
            name=self.text(item.get("name"), f"{place}.name"),
            after=self.milestones(item.get("after"), f"{place}.after"),
            expect=self.milestones(item.get("expect"), f"{place}.expect"),
            within_s=self.duration(item.get("within"), f"{place}.within"),
            pathways=self.pathways(item.get("pathways"), f"{place}.pathways"),
        )

    def quality(self, value: object) -> QualityLimits:
        if not isinstance(value, dict):
            self.fail("quality", "expected an object")
        q: dict[str, Any] = value
        default = QualityLimits()
        limits = {
            name: self.number(q.get(name, getattr(default, name)), f"quality.{name}")
            for name in ("future_tolerance_s", "max_duration_s", "skew_tolerance_s")
        }
        return QualityLimits(**limits)
