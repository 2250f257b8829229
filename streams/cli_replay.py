"""`pathwatch replay EVENTS.jsonl`: run the pathway engine offline over a file of contract events.

File order, event time (watermark clock), the same `pathways.engine.Engine` as the workers.
Malformed lines are reported on stderr with their line number and skipped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import orjson

from pathways.compliance import Compliance
from pathways.engine import Engine
from pathways.outputs import Alert, IntervalRecord, to_json
from pathways.replay import LineError, Replay
from pathways.report import format_report
from pathways.rulepack import RulePackError, load_pack
from streams.cli import fewer_gc_passes
from streams.settings import PathwatchError

PROGRESS_EVERY = 50_000
SHOWN_ERRORS = 50


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="compute intervals and compliance offline from a .jsonl file of contract events",
        description="Replay contract events (one JSON object per line) through the pathway "
        "engine in file order, with an event-time watermark as the clock.",
    )
    parser.add_argument("events", type=Path, help="EVENTS.jsonl ('-' for stdin)")
    parser.add_argument("--pack", default="cn", help="rule pack name or JSON file (default cn)")
    parser.add_argument("--tz", default=None, help="reporting time zone (default: the pack's)")
    parser.add_argument("--region", default=None,
                        help="region (shipped name such as 'demo', or a folder) giving each call "
                        "its district and area type; without it the response target is the "
                        "pack's default and records are flagged unknown_area")
    parser.add_argument("--intervals", type=Path, default=None, metavar="OUT.jsonl",
                        help="write one JSON object per interval revision")
    parser.add_argument("--alerts", type=Path, default=None, metavar="OUT.jsonl",
                        help="write one JSON object per alert")
    parser.add_argument("--report", action="store_true",
                        help="print the compliance report (a table per interval) on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        pack = load_pack(args.pack)
        if args.tz:
            pack = pack.with_timezone(args.tz)
    except RulePackError as exc:
        raise PathwatchError(str(exc)) from None
    engine = Engine(pack, locate=_locate(args.region))
    replay = Replay(engine, Compliance(pack))
    fewer_gc_passes()
    with ExitStack() as stack:
        source = _open_events(args.events, stack)
        intervals_out = _open_out(args.intervals, stack)
        alerts_out = _open_out(args.alerts, stack)
        shown = 0
        for item in replay.run(_progress(source)):
            if isinstance(item, LineError):
                shown += 1
                if shown <= SHOWN_ERRORS:
                    print(f"{args.events}:{item.line_no}: {item.reason}: {item.detail}",
                          file=sys.stderr)
            elif isinstance(item, IntervalRecord) and intervals_out is not None:
                intervals_out.write(orjson.dumps(to_json(item)) + b"\n")
            elif isinstance(item, Alert) and alerts_out is not None:
                alerts_out.write(orjson.dumps(to_json(item)) + b"\n")
    if shown > SHOWN_ERRORS:
        print(f"... and {shown - SHOWN_ERRORS} more malformed lines", file=sys.stderr)
    counts = replay.counts
    print(
        f"replay: {counts.lines} lines, {counts.events} events, {counts.errors} malformed "
        f"(skipped), {counts.ignored} without incident, {len(replay.states)} incidents, "
        f"{counts.records} interval revisions, {counts.alerts} alerts",
        file=sys.stderr,
    )
    if args.report:
        title = f"Compliance ({pack.name}, {replay.compliance.timezone.key})"
        print(format_report(replay.compliance.stats(), title))
    return 0


def _locate(region: str | None) -> Any:
    if region is None:
        return None
    from geo.regions import RegionError, load_region

    try:
        return load_region(region).locate
    except RegionError as exc:
        raise PathwatchError(str(exc)) from None


def _open_events(path: Path, stack: ExitStack) -> IO[bytes]:
    if str(path) == "-":
        return sys.stdin.buffer
    try:
        return stack.enter_context(path.open("rb"))
    except OSError as exc:
        raise PathwatchError(f"cannot read {path}: {exc.strerror}") from None


def _open_out(path: Path | None, stack: ExitStack) -> IO[bytes] | None:
    if path is None:
        return None
    try:
        return stack.enter_context(path.open("wb"))
    except OSError as exc:
        raise PathwatchError(f"cannot write {path}: {exc.strerror}") from None


def _progress(lines: IO[bytes]) -> Iterator[bytes]:
    for count, line in enumerate(lines, start=1):
        if count % PROGRESS_EVERY == 0:
            print(f"replay: {count} lines read", file=sys.stderr, flush=True)
        yield line
