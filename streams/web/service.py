"""Runs the screens inside a worker: the HTTP server replaces Faust's own web stack.

    attach_web(app, settings=settings, registry=registry, region=load_region(), tokens=tokens)

Registered with `app.web_server(...)`, so Faust does not start its legacy web server: its
`/table` endpoints (which expose table values, i.e. patient data) are never served.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any

from aiohttp import web
from mode import Service
from prometheus_client import CollectorRegistry

from streams.metrics import install_faust_sensors
from streams.settings import Settings
from streams.web.access import Tokens
from streams.web.board import Board, BoardTargets
from streams.web.board_metrics import BoardCollector
from streams.web.feed import BoardFeed
from streams.web.region_map import region_districts, region_geojson, region_hospitals
from streams.web.server import BoardHub, Now, build_web_app, wall_clock

log = logging.getLogger(__name__)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6066
SHUTDOWN_S = 2.0  # open event streams are cut after this on shutdown


class WebService(Service):
    def __init__(
        self,
        web_app: web.Application,
        feed: BoardFeed | None,
        *,
        host: str,
        port: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.web_app = web_app
        self.feed = feed
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._feed_task: asyncio.Task[None] | None = None

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    async def on_start(self) -> None:
        self._runner = web.AppRunner(self.web_app, access_log=None, shutdown_timeout=SHUTDOWN_S)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("screens served at %s", self.web_url)
        if self.feed is not None:
            self._feed_task = asyncio.ensure_future(self.feed.run())

    async def on_stop(self) -> None:
        if self._feed_task is not None:
            self._feed_task.cancel()
            await asyncio.gather(self._feed_task, return_exceptions=True)
        if self.feed is not None:
            await self.feed.close()
        if self._runner is not None:
            await self._runner.cleanup()


def attach_web(
    app: Any,
    *,
    registry: CollectorRegistry,
    settings: Settings | None = None,
    region: Any = None,
    tokens: Tokens | None = None,
    options: Any = None,
    pack: Any = None,
    now: Now = wall_clock,
) -> WebService:
    """Serve the screens, `/metrics` and `/healthz` from this worker (a Faust app).

    `options` is the worker's `streams.app.WorkerOptions` (bind address, port, topic prefix,
    region, rule pack); what is not given is read from the environment (`Settings.from_env`,
    `Tokens.from_env`), the demo region and the `cn` pack. Faust's sensor metrics join
    `registry`.
    """
    settings = settings or _settings_of(app)
    tokens = tokens or Tokens.from_env()
    region = region or _region(options)
    pack = pack or _pack(options)
    install_faust_sensors(app, registry)
    board = Board(
        targets=BoardTargets.from_pack(pack),
        locate=region.locate,
        hospitals=region_hospitals(region),
        districts=region_districts(region),
    )
    registry.register(BoardCollector(board))
    hub = BoardHub(board, now)
    prefix = getattr(options, "topic_prefix", "")
    feed = BoardFeed(hub, settings, topic_prefix=prefix)
    web_app = build_web_app(
        hub, tokens, registry=registry, region_json=region_geojson(region), ack_sink=feed.send_ack
    )
    host, port = _address(app, options)
    service = WebService(web_app, feed, host=host, port=port)
    app.web_server(service)
    return service


def _address(app: Any, options: Any) -> tuple[str, int]:
    """Bind address: the worker's options, else the app's web settings when they name an IP
    address (Faust's own default is the host name, which would expose the screens)."""
    if options is not None:
        return options.web_host, options.web_port
    host = str(getattr(app.conf, "web_host", "") or "")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        host = DEFAULT_HOST
    return host, int(getattr(app.conf, "web_port", 0) or DEFAULT_PORT)


def _settings_of(app: Any) -> Settings:
    """The environment's settings with the broker the app was actually given (--bootstrap)."""
    servers = ",".join(f"{url.host}:{url.port}" for url in app.conf.broker)
    settings = Settings.from_env()
    return settings.with_bootstrap(servers) if servers else settings


def _region(options: Any) -> Any:
    from geo.regions import DEMO_REGION, load_region

    return load_region(getattr(options, "region", None) or DEMO_REGION)


def _pack(options: Any) -> Any:
    from pathways.rulepack import load_pack

    return load_pack(getattr(options, "rule_pack", None) or "cn")
