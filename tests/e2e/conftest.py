"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, against the screens'
HTTP server running in-process in a background thread and fed directly with board inputs."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_kit_path = Path(__file__).parents[1] / "streams" / "web" / "board_kit.py"
_spec = importlib.util.spec_from_file_location("board_kit_e2e", _kit_path)
assert _spec and _spec.loader
board_kit: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(board_kit)

_worker_spec = importlib.util.spec_from_file_location(
    "live_worker_e2e", Path(__file__).with_name("live_worker.py")
)
assert _worker_spec and _worker_spec.loader
live_worker: Any = importlib.util.module_from_spec(_worker_spec)
_worker_spec.loader.exec_module(live_worker)

CHROMIUM = os.environ.get("PATHWATCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ScreensServer:
    """The screens' aiohttp server on a loop of its own; `feed` changes the board safely."""

    def __init__(self) -> None:
        from streams.web.server import BoardHub, build_web_app

        self.kit = board_kit.BoardKit()
        self.tokens = board_kit.TOKENS
        self.acks: list[dict[str, Any]] = []
        self.hub = BoardHub(self.kit.board(), heartbeat_s=1.0)  # stale after 3 s
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        from streams.web.region_map import region_geojson

        async def sink(ack: dict[str, Any]) -> None:
            self.acks.append(ack)

        self._app = build_web_app(
            self.hub, self.tokens, region_json=region_geojson(self.kit.region), ack_sink=sink
        )
        self._runner: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from aiohttp import web

        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._runner = web.AppRunner(self._app, shutdown_timeout=0.5)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10), "screens server did not start"

    def feed(self, change: Callable[[Any], None]) -> None:
        """Apply `change(board)` on the server's loop and notify the streams."""
        done = threading.Event()

        def apply() -> None:
            change(self.hub.board)
            self.hub.notify()
            done.set()

        self._loop.call_soon_threadsafe(apply)
        assert done.wait(5)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        if self._runner is not None:
            future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def screens() -> Iterator[ScreensServer]:
    server = ScreensServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module: Playwright's sync API keeps an event loop running in the main thread while
    it is open, and later tests must be free to call asyncio.run()."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run installs it (apt chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def tokens() -> Any:
    return board_kit.TOKENS


@pytest.fixture
def free_port() -> int:
    return _free_port()


@pytest.fixture
def worker_screens(
    kafka_settings: Any, kafka_topics: str, tmp_path: Path, free_port: int, tokens: Any
) -> Iterator[str]:
    """URL of a live worker's screens, on this test's topics."""
    with live_worker.running_worker(
        kafka_settings, kafka_topics, tmp_path, free_port, tokens
    ) as url:
        yield url
