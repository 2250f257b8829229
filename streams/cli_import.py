"""`pathwatch import sf-fire CSV` and `pathwatch import csv --mapping FILE CSV`.

Both run the one mapping-driven importer (`simulators.importer`); `sf-fire` only picks the
shipped mapping. Events go to a `.jsonl` file (`--out`) or to the contract's Kafka topics.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from simulators.importer import ImportReport, import_csv
from simulators.mapping import Mapping, MappingError, builtin_mapping, load_mapping
from simulators.sinks import SinkError, deliver, messages_of
from streams.cli import add_bootstrap_argument, sink_from
from streams.settings import PathwatchError

SHOWN_PROBLEMS = 20


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("import", help="convert a CAD export to contract events")
    kinds = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    sf = kinds.add_parser(
        "sf-fire", help="San Francisco Fire Department 'Calls for Service' CSV",
        description="Import the SFFD Calls for Service export with the shipped mapping "
                    "(simulators/mappings/sf_fire.json).",
    )
    generic = kinds.add_parser(
        "csv", help="any CAD CSV export, described by a JSON mapping file",
        description="Import a CSV export using a column-mapping file (see simulators/README.md).",
    )
    generic.add_argument("--mapping", type=Path, required=True, help="JSON mapping file")
    for command in (sf, generic):
        command.add_argument("csv", type=Path, help="the exported CSV file")
        command.add_argument("--out", type=Path, default=None,
                             help="write events to this .jsonl file instead of Kafka")
        command.add_argument("--problems", type=Path, default=None,
                             help="write every bad-row report (line: reason) to this file")
        command.add_argument("--topic-prefix", default="", help="prepended to every topic name")
        add_bootstrap_argument(command)
        command.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    mapping = _mapping(args)
    try:
        events, report = import_csv(args.csv, mapping)
    except (MappingError, OSError, UnicodeDecodeError) as exc:
        raise PathwatchError(str(exc)) from None
    try:
        deliver(messages_of(events), sink_from(args))
    except SinkError as exc:
        raise PathwatchError(str(exc)) from None
    _print_report(report, args)
    target = args.out if args.out else "Kafka"
    print(f"{report.summary()}; written to {target}", file=sys.stderr)
    return 0


def _mapping(args: argparse.Namespace) -> Mapping:
    try:
        if args.format == "sf-fire":
            return builtin_mapping("sf_fire")
        return load_mapping(args.mapping)
    except MappingError as exc:
        raise PathwatchError(str(exc)) from None


def _print_report(report: ImportReport, args: argparse.Namespace) -> None:
    for problem in report.problems[:SHOWN_PROBLEMS]:
        print(f"{args.csv}: {problem}", file=sys.stderr)
    hidden = len(report.problems) - SHOWN_PROBLEMS
    if hidden > 0:
        print(f"... {hidden} more problems (use --problems FILE for all)", file=sys.stderr)
    for status, rows in report.unmapped.most_common():
        print(f"{args.csv}: status {status!r} is not in the mapping: {rows} rows skipped",
              file=sys.stderr)
    if args.problems is not None:
        args.problems.write_text("".join(f"{p}\n" for p in report.problems), encoding="utf-8")
