"""`pathwatch simulate`: the synthetic city on a region, paced, with optional faults.

    pathwatch simulate --seed 7 --duration 2h --speed 60            # to Kafka, 60x real time
    pathwatch simulate --seed 7 --duration 1d --out city.jsonl      # as fast as possible
    pathwatch simulate --duration 1h --rate 5000 --calls-per-hour 3000   # load test
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from geo.regions import RegionError, load_region
from simulators import faults
from simulators.city import generate
from simulators.pacing import paced
from simulators.scenario import load_scenario
from simulators.sinks import SinkError, deliver
from streams.cli import add_bootstrap_argument, sink_from
from streams.settings import PathwatchError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r}: expected e.g. 90s, 30m, 2h, 1d")
    return timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])


def start_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an ISO time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give a UTC offset, e.g. +08:00")
    return moment


def skew(text: str) -> tuple[str, float]:
    unit, _, seconds = text.rpartition(":")
    try:
        return unit, float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected UNIT:SECONDS, e.g. S03-A1:-90") from None


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a probability 0..1")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate", help="generate the synthetic city's events (calls, units, GPS, hospitals)",
        description="Generate a deterministic city scenario on a region; see simulators/README.md.",
    )
    parser.add_argument("--region", default="demo", help="region folder or shipped name")
    parser.add_argument("--scenario", default=None, help="JSON file overriding scenario fields")
    parser.add_argument("--seed", type=int, default=1,
                        help="random seed: the same seed and --start give the same events")
    parser.add_argument("--start", type=start_time, default=None,
                        help="event time of the start, ISO with offset (default: now); "
                             "fix it for byte-identical output")
    parser.add_argument("--duration", type=duration, default=timedelta(hours=1),
                        help="event-time length of the run: 90s, 30m, 2h, 1d (default 1h)")
    parser.add_argument("--finish", action="store_true",
                        help="run calls of the window to completion instead of cutting at the end")
    parser.add_argument("--calls-per-hour", type=float, default=None,
                        help="mean call rate (overrides the scenario)")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=None, help="event time / wall time, 1-600")
    pace.add_argument("--rate", type=float, default=None, help="messages per second (load test)")
    parser.add_argument("--warmup", type=duration, default=timedelta(0),
                        help="with --speed: event time sent at once before pacing starts "
                             "(history for a demo), e.g. 2h")
    parser.add_argument("--out", default=None, help="write a .jsonl file instead of Kafka")
    parser.add_argument("--topic-prefix", default="", help="prepended to every topic name")
    add_bootstrap_argument(parser)
    _fault_arguments(parser)
    parser.set_defaults(func=_run)


def _fault_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("faults (see simulators/README.md)")
    group.add_argument("--duplicates", type=probability, default=0.0, metavar="P",
                       help="share of messages delivered twice")
    group.add_argument("--out-of-order", type=probability, default=0.0, metavar="P",
                       help="share of messages overtaken by up to --window later ones")
    group.add_argument("--window", type=int, default=20, help="out-of-order window (messages)")
    group.add_argument("--late", type=probability, default=0.0, metavar="P",
                       help="share of messages delivered --late-by seconds late")
    group.add_argument("--late-by", type=float, default=120.0, metavar="SECONDS",
                       help="how late, in event time (default 120)")
    group.add_argument("--clock-skew", type=skew, default=None, metavar="UNIT:SECONDS",
                       help="shift one unit's device clock")
    group.add_argument("--malformed", type=probability, default=0.0, metavar="P",
                       help="share of extra invalid messages inserted")


def _run(args: argparse.Namespace) -> int:
    try:
        region = load_region(args.region)
        scenario = load_scenario(args.scenario)
    except (RegionError, OSError, ValueError) as exc:
        raise PathwatchError(str(exc)) from None
    if args.calls_per_hour is not None:
        scenario = replace(scenario, calls_per_hour=args.calls_per_hour)
    start = args.start or datetime.now(UTC).replace(microsecond=0)
    events = generate(region, scenario, args.seed, start, args.duration, args.finish)
    try:
        timed = paced(with_faults(faults.outgoing(events), args), speed=args.speed, rate=args.rate,
                      warmup=args.warmup)
        sent = deliver((item.message for item in timed), sink_from(args))
    except (ValueError, SinkError) as exc:
        raise PathwatchError(str(exc)) from None
    print(f"{sent} messages written to {args.out or 'Kafka'}", file=sys.stderr)
    return 0


def with_faults(stream: Iterator[faults.Outgoing], args: argparse.Namespace,
                ) -> Iterator[faults.Outgoing]:
    """The fault chain in source-to-consumer order; each fault has its own seeded rng."""
    def rng(name: str) -> random.Random:
        return random.Random(f"{args.seed}:{name}")

    if args.clock_skew is not None:
        stream = faults.clock_skew(stream, *args.clock_skew)
    if args.late > 0:
        stream = faults.late(stream, args.late, rng("late"), args.late_by)
    if args.out_of_order > 0:
        stream = faults.out_of_order(stream, args.out_of_order, rng("order"), args.window)
    if args.duplicates > 0:
        stream = faults.duplicates(stream, args.duplicates, rng("duplicates"))
    if args.malformed > 0:
        stream = faults.malformed(stream, args.malformed, rng("malformed"))
    return stream
