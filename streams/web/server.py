"""The worker's HTTP server: wall display, ED boards, their JSON API and streams, `/metrics`.

Built as a plain aiohttp application over a `BoardHub`, so tests can serve it in-process and
feed the board directly; `streams.web.service` runs it inside the Faust worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from pathways.events import format_timestamp
from streams.web.access import COOKIE, Principal, Tokens, may_see_hospital, may_see_wall
from streams.web.board import Board
from streams.web.screens import hospital_view, wall_view

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
HEARTBEAT_S = 5.0  # the pages call the feed stale after 3 missed heartbeats (common.js)
MIN_PUSH_S = 0.25  # at most four snapshots a second per stream
AckSink = Callable[[dict[str, Any]], Awaitable[None]]
Now = Callable[[], datetime]
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def wall_clock() -> datetime:
    return datetime.now(UTC)


class BoardHub:
    """The board plus change notification for the streams; fed by `streams.web.feed`."""

    def __init__(
        self, board: Board, now: Now = wall_clock, heartbeat_s: float = HEARTBEAT_S
    ) -> None:
        self.board = board
        self.now = now
        self.heartbeat_s = heartbeat_s
        self.feed_state = "starting"
        self._changed = asyncio.Event()

    def notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_change(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)


async def _no_sink(ack: dict[str, Any]) -> None:
    return None


def build_web_app(
    hub: BoardHub,
    tokens: Tokens,
    *,
    registry: CollectorRegistry | None = None,
    region_json: dict[str, Any] | None = None,
    ack_sink: AckSink = _no_sink,
) -> web.Application:
    routes = _Routes(hub, tokens, registry, region_json or {}, ack_sink)
    app = web.Application(middlewares=[_security_headers])
    app.add_routes(
        [
            web.get("/", routes.wall_page),
            web.get("/hospitals/{hospital_id}", routes.hospital_page),
            web.get("/login", routes.login_page),
            web.post("/login", routes.login),
            web.post("/logout", routes.logout),
            web.get("/api/wall", routes.wall_json),
            web.get("/api/wall/stream", routes.wall_stream),
            web.get("/api/region", routes.region),
            web.get("/api/hospitals/{hospital_id}/board", routes.hospital_json),
            web.get("/api/hospitals/{hospital_id}/stream", routes.hospital_stream),
            web.post("/api/hospitals/{hospital_id}/acks", routes.acknowledge),
            web.get("/metrics", routes.metrics),
            web.get("/healthz", routes.health),
            web.static("/static", STATIC),
        ]
    )
    return app


@web.middleware
async def _security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
    return response


def _token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    return request.cookies.get(COOKIE)


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status, content_type="application/json")


class _Routes:
    def __init__(
        self,
        hub: BoardHub,
        tokens: Tokens,
        registry: CollectorRegistry | None,
        region_json: dict[str, Any],
        ack_sink: AckSink,
    ) -> None:
        self.hub = hub
        self.tokens = tokens
        self.registry = registry
        self.region_json = region_json
        self.ack_sink = ack_sink

    # --- access -------------------------------------------------------------------------------

    def _principal(self, request: web.Request) -> Principal:
        principal = self.tokens.principal(_token(request))
        if principal is None:
            raise web.HTTPUnauthorized(
                text="a screen token is needed", headers={"WWW-Authenticate": "Bearer"}
            )
        return principal

    def _wall(self, request: web.Request) -> None:
        if not may_see_wall(self._principal(request)):
            raise web.HTTPForbidden(text="this token is not the wall display's")

    def _hospital(self, request: web.Request) -> str:
        hospital_id = request.match_info["hospital_id"]
        if not may_see_hospital(self._principal(request), hospital_id):
            raise web.HTTPForbidden(text="this token is not this hospital's")
        return hospital_id

    def _page(
        self, request: web.Request, check: Callable[[web.Request], object], name: str
    ) -> web.StreamResponse:
        try:
            check(request)
        except web.HTTPUnauthorized:
            raise web.HTTPSeeOther("/login?next=" + request.path) from None
        return web.FileResponse(STATIC / name)

    # --- pages --------------------------------------------------------------------------------

    async def wall_page(self, request: web.Request) -> web.StreamResponse:
        return self._page(request, self._wall, "wall.html")

    async def hospital_page(self, request: web.Request) -> web.StreamResponse:
        return self._page(request, self._hospital, "hospital.html")

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "login.html")

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        token = str(form.get("token", "")).strip()
        principal = self.tokens.principal(token)
        if principal is None:
            raise web.HTTPSeeOther("/login?failed=1")
        home = "/" if principal.role == "wall" else f"/hospitals/{principal.hospital_id}"
        target = str(form.get("next", "")) or home
        if not target.startswith("/") or target.startswith("//"):
            target = home  # never redirect off this server
        response = web.HTTPSeeOther(target)
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        response = web.HTTPSeeOther("/login")
        response.del_cookie(COOKIE, path="/")
        raise response

    # --- API ----------------------------------------------------------------------------------

    async def wall_json(self, request: web.Request) -> web.StreamResponse:
        self._wall(request)
        return _json(self._wall_snapshot())

    async def region(self, request: web.Request) -> web.StreamResponse:
        self._wall(request)
        return _json(self.region_json)

    async def hospital_json(self, request: web.Request) -> web.StreamResponse:
        hospital_id = self._hospital(request)
        return _json(self._hospital_snapshot(hospital_id))

    async def wall_stream(self, request: web.Request) -> web.StreamResponse:
        self._wall(request)
        return await self._stream(request, self._wall_snapshot)

    async def hospital_stream(self, request: web.Request) -> web.StreamResponse:
        hospital_id = self._hospital(request)
        return await self._stream(request, lambda: self._hospital_snapshot(hospital_id))

    async def acknowledge(self, request: web.Request) -> web.StreamResponse:
        hospital_id = self._hospital(request)
        if request.content_type != "application/json":
            # a cross-site form cannot send JSON without a CORS preflight, which we never allow
            raise web.HTTPUnsupportedMediaType(text="send application/json")
        try:
            body = orjson.loads(await request.read())
            prealert_id = str(body["prealert_id"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise web.HTTPBadRequest(text='expected {"prealert_id": "..."}') from None
        prealert = self.hub.board.prealerts.get(prealert_id)
        if prealert is None or prealert.get("hospital_id") != hospital_id:
            raise web.HTTPNotFound(text="no such pre-alert for this hospital")
        ack = {
            "prealert_id": prealert_id,
            "hospital_id": hospital_id,
            "incident_id": prealert.get("incident_id"),
            "ack_ts": format_timestamp(self.hub.now()),
        }
        self.hub.board.apply_ack(ack)
        self.hub.notify()
        try:
            await self.ack_sink(ack)
            published = True
        except Exception as exc:  # recorded here; other workers see it once Kafka is back
            log.warning("acknowledgement not published: %s", exc)
            published = False
        return _json({**self.hub.board.acks[prealert_id], "published": published})

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        if self.registry is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def health(self, request: web.Request) -> web.StreamResponse:
        return _json({"status": "ok", "feed": self.hub.feed_state})

    # --- streams ------------------------------------------------------------------------------

    def _wall_snapshot(self) -> dict[str, Any]:
        return {**self._feed(), **wall_view(self.hub.board, self.hub.now())}

    def _hospital_snapshot(self, hospital_id: str) -> dict[str, Any]:
        return {**self._feed(), **hospital_view(self.hub.board, hospital_id, self.hub.now())}

    def _feed(self) -> dict[str, Any]:
        return {"feed": self.hub.feed_state, "heartbeat_s": self.hub.heartbeat_s}

    async def _stream(
        self, request: web.Request, snapshot: Callable[[], dict[str, Any]]
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
                **SECURITY_HEADERS,
            }
        )
        await response.prepare(request)
        sent = -1
        with contextlib.suppress(ConnectionResetError):
            await response.write(b"retry: 2000\n\n")
            while True:
                if self.hub.board.version != sent:
                    sent = self.hub.board.version
                    await response.write(_event("snapshot", snapshot()))
                else:
                    now = format_timestamp(self.hub.now())
                    beat = {"now": now, "heartbeat_s": self.hub.heartbeat_s}
                    await response.write(_event("heartbeat", beat))
                await asyncio.sleep(MIN_PUSH_S)
                if self.hub.board.version == sent:  # no await between check and wait
                    await self.hub.wait_change(self.hub.heartbeat_s)
        return response


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
