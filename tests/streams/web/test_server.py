"""The HTTP server in-process: the access-control matrix, the JSON API, the event stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientTimeout
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web import Application, Request
from prometheus_client import CollectorRegistry

from streams.metrics import Metrics
from streams.web.server import BoardHub, build_web_app

Client = TestClient[Request, Application]
WALL, H01, H02 = "wall", "H01", "H02"
BOGUS = "not-a-token-0123456789"


def run(
    kit: Any, tokens: Any, body: Callable[[Client, BoardHub, list[Any]], Awaitable[None]]
) -> None:
    async def main() -> None:
        board = kit.board()
        board.apply_event(kit.call("I1", 0))
        board.apply_prealert(kit.prealert("I1", "H01"))
        board.apply_prealert(kit.prealert("I9", "H02"))
        hub = BoardHub(board, now=lambda: kit.at(30))
        acks: list[Any] = []

        async def sink(ack: dict[str, Any]) -> None:
            acks.append(ack)

        registry = CollectorRegistry()
        Metrics(registry, targets_s=[180])
        app = build_web_app(
            hub, tokens, registry=registry, region_json={"bbox": [0, 0, 1, 1]}, ack_sink=sink
        )
        async with TestClient(TestServer(app)) as client:
            await body(client, hub, acks)

    asyncio.run(main())


def header(tokens: Any, who: str | None) -> dict[str, str]:
    token = {
        WALL: tokens.wall,
        H01: tokens.hospitals["H01"],
        H02: tokens.hospitals["H02"],
        "bogus": BOGUS,
    }.get(who or "")
    return {"Authorization": f"Bearer {token}"} if token else {}


# (method, path, the one principal allowed); pages redirect to the login form without a token
ENDPOINTS = [
    ("GET", "/", WALL),
    ("GET", "/api/wall", WALL),
    ("GET", "/api/wall/stream", WALL),
    ("GET", "/api/region", WALL),
    ("GET", "/hospitals/H01", H01),
    ("GET", "/api/hospitals/H01/board", H01),
    ("GET", "/api/hospitals/H01/stream", H01),
    ("POST", "/api/hospitals/H01/acks", H01),
    ("GET", "/hospitals/H02", H02),
    ("GET", "/api/hospitals/H02/board", H02),
    ("GET", "/api/hospitals/H02/stream", H02),
    ("POST", "/api/hospitals/H02/acks", H02),
]
PRINCIPALS = [None, "bogus", WALL, H01, H02]


def expected(method: str, path: str, allowed: str, who: str | None) -> int:
    if who == allowed:
        return 200
    if who in (None, "bogus"):
        page = method == "GET" and not path.startswith("/api/")
        return 303 if page else 401
    return 403


@pytest.mark.parametrize("method,path,allowed", ENDPOINTS)
def test_access_matrix(kit: Any, tokens: Any, method: str, path: str, allowed: str) -> None:
    async def body(client: Client, hub: BoardHub, acks: list[Any]) -> None:
        for who in PRINCIPALS:
            kwargs: dict[str, Any] = {"headers": header(tokens, who), "allow_redirects": False}
            if method == "POST":
                hospital = path.split("/")[3]
                prealert = "I1:H01" if hospital == "H01" else "I9:H02"
                kwargs["json"] = {"prealert_id": prealert}
            response = await client.request(method, path, **kwargs)
            assert response.status == expected(method, path, allowed, who), (who, path)
            if response.status == 200 and path.endswith("/stream"):
                assert response.headers["Content-Type"] == "text/event-stream"
            response.close()

    run(kit, tokens, body)


def test_a_cookie_from_the_login_form_works_and_no_token_is_in_a_url(kit: Any, tokens: Any) -> None:
    async def body(client: Client, hub: BoardHub, acks: list[Any]) -> None:
        response = await client.post(
            "/login", data={"token": tokens.hospitals["H01"], "next": ""}, allow_redirects=False
        )
        assert response.status == 303
        assert response.headers["Location"] == "/hospitals/H01"
        assert tokens.hospitals["H01"] not in response.headers["Location"]
        assert "HttpOnly" in response.headers["Set-Cookie"]
        board = await client.get("/api/hospitals/H01/board")
        assert board.status == 200
        assert (await client.get("/api/hospitals/H02/board")).status == 403
        bad = await client.post("/login", data={"token": BOGUS}, allow_redirects=False)
        assert bad.status == 303 and bad.headers["Location"].startswith("/login")
        evil = await client.post(
            "/login", data={"token": tokens.wall, "next": "//evil.example"}, allow_redirects=False
        )
        assert evil.headers["Location"] == "/"

    run(kit, tokens, body)


def test_hospital_api_holds_only_its_patients(kit: Any, tokens: Any) -> None:
    async def body(client: Client, hub: BoardHub, acks: list[Any]) -> None:
        response = await client.get("/api/hospitals/H01/board", headers=header(tokens, H01))
        view = await response.json()
        assert [p["prealert_id"] for p in view["incoming"]] == ["I1:H01"]
        assert "I9" not in await response.text()
        assert response.headers["Cache-Control"] == "no-store"

    run(kit, tokens, body)


def test_acknowledgement_round_trip(kit: Any, tokens: Any) -> None:
    async def body(client: Client, hub: BoardHub, acks: list[Any]) -> None:
        url = "/api/hospitals/H01/acks"
        h01 = header(tokens, H01)
        form = await client.post(url, headers=h01, data={"prealert_id": "I1:H01"})
        assert form.status == 415  # a cross-site form post cannot acknowledge
        other = await client.post(url, headers=h01, json={"prealert_id": "I9:H02"})
        assert other.status == 404
        done = await client.post(url, headers=h01, json={"prealert_id": "I1:H01"})
        assert done.status == 200 and (await done.json())["published"] is True
        assert [a["prealert_id"] for a in acks] == ["I1:H01"]
        wall = await (await client.get("/api/wall", headers=header(tokens, WALL))).json()
        assert wall["incidents"][0]["acknowledged_by"] == ["H01"]
        board = await (await client.get("/api/hospitals/H01/board", headers=h01)).json()
        assert board["incoming"][0]["acknowledged_ts"] is not None

    run(kit, tokens, body)


def test_stream_pushes_a_snapshot_on_change(kit: Any, tokens: Any) -> None:
    async def body(client: Client, hub: BoardHub, acks: list[Any]) -> None:
        response = await client.get(
            "/api/hospitals/H01/stream",
            headers=header(tokens, H01),
            timeout=ClientTimeout(total=10),
        )
        first = await read_event(response)
        assert first["event"] == "snapshot" and len(first["data"]["incoming"]) == 1
        hub.board.apply_prealert(kit.prealert("I2", "H01", eta_s=60))
        hub.board.apply_prealert(kit.prealert("I3", "H02", eta_s=60))
        hub.notify()
        second = await read_event(response)
        ids = [p["prealert_id"] for p in second["data"]["incoming"]]
        assert ids == ["I2:H01", "I1:H01"]
        response.close()

    run(kit, tokens, body)


async def read_event(response: Any) -> dict[str, Any]:
    import orjson

    event: dict[str, Any] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event["event"] = line[7:]
        elif line.startswith("data: "):
            event["data"] = orjson.loads(line[6:])
        elif not line and "event" in event:
            return event
    raise AssertionError("stream ended")


def test_metrics_and_health_need_no_token(kit: Any, tokens: Any) -> None:
    async def body(client: Client, hub: BoardHub, acks: list[Any]) -> None:
        metrics = await client.get("/metrics")
        assert metrics.status == 200
        assert "pathwatch_interval_seconds" in await metrics.text()
        assert (await client.get("/healthz")).status == 200

    run(kit, tokens, body)
