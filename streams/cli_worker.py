"""`pathwatch worker`: run the streaming pipeline (Faust) against Kafka."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

from streams.cli import add_bootstrap_argument, fewer_gc_passes, settings_from

log = logging.getLogger(__name__)
SHUTDOWN_TIMEOUT_S = 30.0


def register(subparsers: Any) -> None:
    worker = subparsers.add_parser(
        "worker",
        help="run the streaming worker (agents, tables, deadline sweeps, pre-alerts)",
        description="Run the pathwatch worker. Start more with the same --app-id to share "
        "the partitions.",
    )
    add_bootstrap_argument(worker)
    worker.add_argument("--app-id", default="pathwatch",
                        help="consumer group and table namespace (default: pathwatch)")
    worker.add_argument("--topic-prefix", default="", help="prepended to every topic name")
    worker.add_argument("--clock", choices=("wall", "watermark"), default="wall",
                        help="deadline clock: wall (live) or event-time watermark (replay)")
    worker.add_argument("--web-host", default="127.0.0.1", help="bind address of the web server")
    worker.add_argument("--web-port", type=int, default=6066, help="web server port")
    worker.add_argument("--no-web", action="store_true", help="do not start the web server")
    worker.add_argument("--partitions", type=int, default=None,
                        help="partitions of created topics (default: 6)")
    worker.add_argument("--sweep-interval", type=float, default=1.0,
                        help="seconds between deadline sweeps (default: 1)")
    worker.add_argument("--lateness", type=float, default=5.0,
                        help="watermark clock: seconds of event time a partition's sweeps stay "
                             "behind its latest event (default: 5)")
    worker.add_argument("--eta-threshold", type=float, default=120.0,
                        help="seconds an ETA must move to send a pre-alert update")
    worker.add_argument("--region", default=None, help="geo region name or folder (default: demo)")
    worker.add_argument("--rule-pack", default="cn", help="rule pack name or file (default: cn)")
    worker.add_argument("--datadir", type=Path, default=None,
                        help="Faust data folder (default: $PATHWATCH_HOME/faust)")
    worker.add_argument("--log-level", default="info", help="debug, info, warning (default)")
    worker.add_argument("--shutdown-timeout", type=float, default=SHUTDOWN_TIMEOUT_S,
                        help="seconds a stop (SIGTERM/SIGINT) may take before the worker exits "
                             "anyway, e.g. when Kafka is unreachable (default: 30)")
    worker.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    import uvloop
    from prometheus_client import CollectorRegistry

    from streams import topics
    from streams.app import WorkerOptions, create_app, feed_topic_names
    from streams.clock import clock_named

    settings = settings_from(args)
    partitions = args.partitions or topics.DEFAULT_PARTITIONS
    topics.create_topics(settings=settings, partitions=partitions, prefix=args.topic_prefix)
    options = WorkerOptions(
        app_id=args.app_id,
        topic_prefix=args.topic_prefix,
        partitions=partitions,
        web_enabled=not args.no_web,
        web_host=args.web_host,
        web_port=args.web_port,
        datadir=args.datadir,
        sweep_interval_s=args.sweep_interval,
        lateness_s=args.lateness,
        eta_threshold_s=args.eta_threshold,
        region=args.region,
        rule_pack=args.rule_pack,
    )
    topics.create_topics(settings=settings, partitions=partitions,
                         names=feed_topic_names(options))
    # created here, not by Faust at start-up: left to Faust, a changelog was sometimes missing
    # from the metadata at the first assignment and every message of that side failed
    topics.create_topics(settings=settings, partitions=partitions, config=topics.CHANGELOG_CONFIG,
                         names=[topics.changelog_topic(args.app_id, t) for t in topics.TABLES])
    # uvloop: Faust's cost per message is mostly asyncio's own (futures, call_soon, the
    # selector); uvloop's loop does the same work in C
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    fewer_gc_passes()
    registry = CollectorRegistry()
    app = create_app(settings, clock=clock_named(args.clock), registry=registry, options=options)
    _attach_web(app, registry, options, settings)
    faust_worker(app, args.log_level, args.shutdown_timeout).execute_from_commandline()
    return 0


def faust_worker(app: Any, log_level: str, shutdown_timeout_s: float = SHUTDOWN_TIMEOUT_S
                 ) -> Any:
    """Faust's worker, without its terminal spinner (to spin on every log record it sets the
    root logger to DEBUG, so every debug call in Faust and aiokafka built a record, ~2 per
    input event, that the handler then dropped), and with a bounded stop."""
    import faust

    from streams.logs import logging_config

    class Worker(faust.Worker):
        def _schedule_shutdown(self, signal: Any) -> None:
            # Faust's stop commits and flushes, and waits for Kafka as long as it takes: with
            # Kafka unreachable it never ended. At-least-once makes leaving safe: what was not
            # committed is read again at the next start.
            if not self._signal_stop_time:
                _exit_after(shutdown_timeout_s)
            super()._schedule_shutdown(signal)

    worker = Worker(app, loglevel=log_level.upper(), quiet=True,
                    logging_config=logging_config(log_level.upper()))
    worker.spinner = None
    return worker


def _exit_after(seconds: float) -> None:
    def leave() -> None:
        log.error("stop took longer than %.0f s (Kafka unreachable?); exiting; input not "
                  "committed is read again at the next start", seconds,
                  extra={"event": "shutdown_timeout", "seconds": seconds})
        os._exit(1)

    timer = threading.Timer(seconds, leave)
    timer.daemon = True
    timer.start()


def _attach_web(app: Any, registry: Any, options: Any, settings: Any) -> None:
    """The screens, /metrics and /healthz (streams.web), when enabled and installed."""
    if not options.web_enabled:
        return
    try:
        web = importlib.import_module("streams.web")
    except ImportError:
        return
    attach = getattr(web, "attach_web", None)
    if attach is not None:
        attach(app, registry=registry, options=options, settings=settings)
