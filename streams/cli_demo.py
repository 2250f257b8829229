"""`pathwatch demo`: broker, topics, worker and simulator in one command; Ctrl-C stops all.

The simulated city runs in compressed event time, so the worker uses the event-time
watermark clock (the replay mode), not the wall clock.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.cli import add_bootstrap_argument, settings_from
from streams.cli_simulate import duration
from streams.settings import PathwatchError, Settings

DEMO_APP_ID = "pathwatch-demo"


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run everything: embedded broker, topics, worker, simulator, screens, metrics",
        description="Start the embedded Kafka broker (unless --bootstrap is given), create the "
        "topics, start a worker and the city simulator, and print the screens' URLs. "
        "Ctrl-C stops everything.",
    )
    add_bootstrap_argument(demo)
    demo.add_argument("--speed", type=float, default=30.0,
                      help="simulated time / wall time (default 30)")
    demo.add_argument("--warmup", default="4h",
                      help="simulated history sent at once before pacing starts, so the "
                      "in-hospital intervals appear early (default 4h; 0 for none)")
    demo.add_argument("--duration", default="1d", help="simulated time to run (default 1d)")
    demo.add_argument("--seed", type=int, default=1, help="simulator seed")
    demo.add_argument("--start", default=None,
                      help="simulated start, ISO time with offset (default: --warmup ago)")
    demo.add_argument("--web-port", type=int, default=6066, help="screens and /metrics port")
    demo.add_argument("--for", dest="run_for", type=float, default=None, metavar="SECONDS",
                      help="stop by itself after this many seconds (default: until Ctrl-C)")
    demo.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    broker = None if args.bootstrap else _start_broker(settings)
    children: list[subprocess.Popen[bytes]] = []
    stop = _StopFlag()
    try:
        from streams.topics import create_topics

        create_topics(settings=settings)
        env = _demo_env(settings)
        children.append(_spawn(_worker_args(args), env, settings.home / "demo-worker.log"))
        _wait_for_web(args.web_port, children[0])
        children.append(_spawn(_simulator_args(args), env, settings.home / "demo-simulator.log"))
        _print_urls(args.web_port, env, settings.home)
        return _supervise(children, stop, args.run_for)
    finally:
        for child in reversed(children):
            _terminate(child)
        if broker is not None:
            broker.stop()
            print("pathwatch demo: broker stopped", file=sys.stderr)


def _start_broker(settings: Settings) -> Any:
    from streams.broker import Broker

    host, _, port = settings.bootstrap_servers[0].rpartition(":")
    broker = Broker(port=int(port), settings=settings)
    print(f"pathwatch demo: starting Kafka {broker.version} at {broker.bootstrap} ...",
          file=sys.stderr)
    return broker.start(timeout=120.0)


def _demo_env(settings: Settings) -> dict[str, str]:
    """The environment of the children: bootstrap, and screen tokens (made once, kept)."""
    env = dict(os.environ, PATHWATCH_BOOTSTRAP=",".join(settings.bootstrap_servers))
    if not env.get("PATHWATCH_TOKENS") and not env.get("PATHWATCH_TOKENS_FILE"):
        env["PATHWATCH_TOKENS_FILE"] = str(_demo_tokens(settings.home))
    return env


def _demo_tokens(home: Path) -> Path:
    path = home / "demo-tokens.json"
    if not path.exists():
        from geo.regions import load_region

        hospitals = {h.hospital_id: secrets.token_urlsafe(18) for h in load_region().hospitals}
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"wall": secrets.token_urlsafe(18), "hospitals": hospitals},
                                   indent=2))
        path.chmod(0o600)
    return path


def _worker_args(args: argparse.Namespace) -> list[str]:
    return ["worker", "--app-id", DEMO_APP_ID, "--clock", "watermark",
            "--web-port", str(args.web_port), "--log-level", "warning"]


def _simulator_args(args: argparse.Namespace) -> list[str]:
    start = args.start or (datetime.now(UTC).replace(microsecond=0) - duration(args.warmup))
    return ["simulate", "--seed", str(args.seed), "--start", str(start),
            "--duration", args.duration, "--speed", str(args.speed), "--warmup", args.warmup]


def _spawn(command: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "streams.cli", *command], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for_web(port: int, worker: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise PathwatchError(f"the worker exited with {worker.returncode}; see its log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise PathwatchError(f"the worker's web server did not answer on port {port}")


def _print_urls(port: int, env: dict[str, str], home: Path) -> None:
    base = f"http://127.0.0.1:{port}"
    where = env.get("PATHWATCH_TOKENS_FILE", "$PATHWATCH_TOKENS")
    print(f"""
pathwatch demo is running (Ctrl-C stops everything)
  wall display     {base}/
  ED board         {base}/hospitals/H01
  metrics          {base}/metrics
  screen tokens    {where}  (paste the "wall" or a hospital's token in the login form)
  logs             {home}/demo-worker.log, {home}/demo-simulator.log
""", flush=True)


class _StopFlag:
    def __init__(self) -> None:
        self.stopped = False
        signal.signal(signal.SIGTERM, self._set)

    def _set(self, *_: object) -> None:
        self.stopped = True


def _supervise(children: list[subprocess.Popen[bytes]], stop: _StopFlag,
               run_for: float | None) -> int:
    """Wait for Ctrl-C, SIGTERM, `run_for` seconds, or a child that dies."""
    ends = None if run_for is None else time.monotonic() + run_for
    try:
        while not stop.stopped and (ends is None or time.monotonic() < ends):
            for child in children:
                if child.poll() is not None and child is children[0]:
                    print(f"pathwatch demo: the worker exited with {child.returncode}",
                          file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    print("pathwatch demo: stopping ...", file=sys.stderr)
    return 0


def _terminate(child: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if child.poll() is not None:
        return
    os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
