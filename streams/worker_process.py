"""`pathwatch worker` as a child process, for benchmarks and integration tests that need the
real worker: its own process (so it can be killed like one), its output in a log file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from streams.broker import die_with_parent

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class WorkerProcess:
    bootstrap: str
    app_id: str
    prefix: str
    datadir: Path  # the log file, and Faust's data folder `faust`
    clock: str = "watermark"
    sweep_interval_s: float = 1.0
    web_port: int | None = None  # None: no web server
    extra: tuple[str, ...] = ()  # more `pathwatch worker` arguments
    env: dict[str, str] = field(default_factory=dict)  # added to this process's environment
    log_level: str = "info"
    profile: Path | None = None  # run under cProfile, stats written here at exit
    tie_to_parent: bool = False  # SIGTERM the worker when this process dies
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.datadir / f"{self.app_id}-{id(self)}.log"

    def command(self) -> list[str]:
        profiler = ["-m", "cProfile", "-o", str(self.profile)] if self.profile else []
        web = ["--no-web"] if self.web_port is None else ["--web-port", str(self.web_port)]
        return [
            sys.executable, *profiler, "-m", "streams.cli", "worker",
            "--bootstrap", self.bootstrap, "--app-id", self.app_id,
            "--topic-prefix", self.prefix, "--clock", self.clock, *web,
            "--sweep-interval", str(self.sweep_interval_s),
            "--datadir", str(self.datadir / "faust"), "--log-level", self.log_level,
            *self.extra,
        ]  # fmt: skip

    def start(self) -> Self:
        self.datadir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command(), cwd=ROOT, env=env, stdout=out, stderr=out,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent() if self.tie_to_parent else None,
            )  # fmt: skip
        return self

    def wait_ready(self, timeout: float = 40.0) -> Self:
        """Until the worker has its partitions and tables (Faust logs `Worker]: Ready`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Worker]: Ready" in self.log_text():
                return self
            if not self.alive():
                raise RuntimeError("worker died:\n" + self.log_tail())
            time.sleep(0.2)
        raise RuntimeError("worker not ready:\n" + self.log_tail())

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, as an operator would; SIGKILL if it has not exited within 20 s."""
        if self.proc is None or not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    @property
    def pid(self) -> int:
        """The worker process's id (once started)."""
        assert self.proc is not None, "the worker was not started"
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time of the worker process so far (from /proc)."""
        if self.proc is None or not self.alive():
            return 0.0
        return process_cpu_seconds(self.proc.pid)

    def metrics(self) -> str:
        """The worker's Prometheus page (needs `web_port`)."""
        url = f"http://127.0.0.1:{self.web_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc; 0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
