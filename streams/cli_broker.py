"""`pathwatch broker fetch|start|stop|status` and `pathwatch topics create`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from streams.broker import DEFAULT_PORT, Broker
from streams.cli import add_bootstrap_argument, settings_from
from streams.settings import Settings
from streams.topics import DEFAULT_PARTITIONS, create_topics

_LOCAL_HOSTS = ("127.0.0.1", "localhost")


def register(subparsers: Any) -> None:
    broker = subparsers.add_parser("broker", help="the embedded single-node Kafka broker")
    actions = broker.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, func, text in (
        ("fetch", _fetch, "download the Kafka jars into $PATHWATCH_HOME (once)"),
        ("start", _start, "start the broker in the background (no-op if running)"),
        ("stop", _stop, "stop the broker"),
        ("status", _status, "say whether the broker runs, and where"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        if name != "fetch":
            action.add_argument("--dir", type=Path, default=None,
                                help="broker folder (default: $PATHWATCH_HOME/broker)")
        if name == "start":
            action.add_argument("--port", type=int, default=None,
                                help="client port (default: the port of $PATHWATCH_BOOTSTRAP "
                                     f"when it is local, else {DEFAULT_PORT})")
            action.add_argument("--controller-port", type=int, default=None,
                                help="KRaft controller port (default: --port + 1)")
            action.add_argument("--timeout", type=float, default=90.0,
                                help="seconds to wait until ready")
        action.set_defaults(func=func)

    topics = subparsers.add_parser("topics", help="Kafka topics of the event contract")
    topic_actions = topics.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = topic_actions.add_parser("create", help="create the contract's topics (idempotent)")
    create.add_argument("--partitions", type=int, default=DEFAULT_PARTITIONS)
    create.add_argument("--prefix", default="", help="prepended to every topic name")
    add_bootstrap_argument(create)
    create.set_defaults(func=_create_topics)


def _default_port(settings: Settings) -> int:
    host, _, port = settings.bootstrap_servers[0].rpartition(":")
    if host in _LOCAL_HOSTS and port.isdigit():
        return int(port)
    return DEFAULT_PORT


def _broker(args: argparse.Namespace) -> Broker:
    settings = Settings.from_env()
    port = getattr(args, "port", None) or _default_port(settings)
    return Broker(args.dir, port, getattr(args, "controller_port", None), settings=settings)


def _fetch(args: argparse.Namespace) -> int:
    broker = Broker(settings=Settings.from_env())
    started = time.monotonic()
    libs = broker.fetch()
    jars = len(list(libs.glob("*.jar")))
    print(f"Kafka {broker.version}: {jars} jars in {libs} ({time.monotonic() - started:.1f}s)")
    return 0


def _start(args: argparse.Namespace) -> int:
    broker = _broker(args)
    before = broker.status()
    started = time.monotonic()
    broker.start(timeout=args.timeout)
    after = broker.status()
    if before.running:
        print(f"already running: pid {after.pid}, {after.bootstrap}, dir {after.data_dir}")
    else:
        print(
            f"started Kafka {broker.version}: pid {after.pid}, {after.bootstrap}, "
            f"dir {after.data_dir} (ready in {time.monotonic() - started:.1f}s)"
        )
    return 0


def _stop(args: argparse.Namespace) -> int:
    broker = _broker(args)
    pid = broker.status().pid
    started = time.monotonic()
    if broker.stop():
        print(f"stopped pid {pid} ({time.monotonic() - started:.1f}s)")
    else:
        print(f"not running (dir {broker.data_dir})")
    return 0


def _status(args: argparse.Namespace) -> int:
    status = _broker(args).status()
    if status.running:
        print(f"running: pid {status.pid}, {status.bootstrap}, dir {status.data_dir}")
        return 0
    print(f"not running (dir {status.data_dir})")
    return 3  # as `systemctl status` / LSB: program is not running


def _create_topics(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    reports = create_topics(partitions=args.partitions, prefix=args.prefix, settings=settings)
    for report in reports:
        state = "created" if report.created else "exists "
        print(f"{state} {report.name} ({report.partitions} partitions)")
    created = sum(r.created for r in reports)
    print(f"{created} created, {len(reports)} in all, at {settings.bootstrap}")
    return 0

