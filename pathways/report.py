"""The human-readable compliance report: one table per interval."""

from __future__ import annotations

from collections import defaultdict

from pathways.compliance import BucketStats


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    whole = round(abs(seconds))
    return f"{sign}{whole // 60}:{whole % 60:02d}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _verdict(stats: BucketStats) -> str:
    parts = []
    for v in stats.verdicts:
        mark = {True: "pass", False: "FAIL", None: "n/a"}[v.passed]
        parts.append(f"{v.rule} {mark}")
    return "; ".join(parts) or "-"


HEADER = ("bucket", "group", "n", "excl", "mean", "p50", "p90", "met", "rules")


def format_report(stats: list[BucketStats], title: str = "Compliance") -> str:
    """Tables ordered: months for all incidents, days for all, then months by each group."""
    by_interval: dict[str, list[BucketStats]] = defaultdict(list)
    for row in stats:
        by_interval[row.interval].append(row)
    lines = [title, "=" * len(title), ""]
    for interval in sorted(by_interval):
        rows = sorted(by_interval[interval], key=_row_order)
        lines.append(f"{interval}")
        lines.extend(_table(rows))
        lines.append("")
    return "\n".join(lines)


def _row_order(row: BucketStats) -> tuple[int, str, str, str]:
    rank = 0 if row.dimension == "all" and row.period == "month" else 1
    if row.dimension != "all":
        rank = 2
    return rank, row.dimension, row.bucket, row.value


def _table(rows: list[BucketStats]) -> list[str]:
    cells = [HEADER] + [
        (
            row.bucket,
            row.dimension if row.dimension == "all" else f"{row.dimension}={row.value}",
            str(row.count),
            str(row.excluded),
            _duration(row.mean_s),
            _duration(row.p50_s),
            _duration(row.p90_s),
            _share(row.share_met),
            _verdict(row),
        )
        for row in rows
        if row.dimension == "all" or row.period == "month"
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER) - 1)]
    return [
        "  " + "  ".join(c[i].ljust(widths[i]) for i in range(len(widths))) + "  " + c[-1]
        for c in cells
    ]
