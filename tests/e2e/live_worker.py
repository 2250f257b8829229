"""A real `pathwatch worker` subprocess with its screens, for the browser and metrics tests.

Loaded by path from conftests (pytest's import mode keeps test folders apart).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def running_worker(
    settings: Any, prefix: str, folder: Path, port: int, tokens: Any, clock: str = "wall"
) -> Iterator[str]:
    """Start a worker on `prefix`-ed topics serving on 127.0.0.1:`port`; yields its URL."""
    env = {
        **os.environ,
        "PATHWATCH_BOOTSTRAP": settings.bootstrap,
        "PATHWATCH_HOME": str(folder),
        "PATHWATCH_TOKENS": json.dumps({"wall": tokens.wall, "hospitals": dict(tokens.hospitals)}),
    }
    command = [
        sys.executable, "-m", "streams.cli", "worker", "--topic-prefix", prefix,
        "--app-id", "t-" + prefix.strip("."), "--web-port", str(port),
        "--datadir", str(folder / "faust"), "--clock", clock, "--log-level", "warning",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with (folder / "worker.log").open("wb") as log:
        worker = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            wait_live(url, timeout=90, worker=worker)
            yield url
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)


def wait_live(url: str, timeout: float, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker exited; see worker.log"
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if json.loads(response.read()).get("feed") == "live":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"worker screens not live at {url}")


def scrape(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text: str = response.read().decode()
    return text
