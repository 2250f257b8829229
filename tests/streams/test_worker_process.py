"""`WorkerProcess` builds the `pathwatch worker` command line the benchmarks and tests rely on."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from streams.worker_process import WorkerProcess, process_cpu_seconds


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_command_carries_every_setting(tmp_path: Path) -> None:
    worker = WorkerProcess("k:9092", "app-1", "p.", tmp_path, clock="wall", sweep_interval_s=0.5,
                           web_port=6100, extra=("--lateness", "30"), log_level="warning")
    command = worker.command()
    assert command[:4] == [sys.executable, "-m", "streams.cli", "worker"]
    assert _option(command, "--bootstrap") == "k:9092"
    assert _option(command, "--app-id") == "app-1"
    assert _option(command, "--topic-prefix") == "p."
    assert _option(command, "--clock") == "wall"
    assert _option(command, "--web-port") == "6100" and "--no-web" not in command
    assert _option(command, "--sweep-interval") == "0.5"
    assert _option(command, "--datadir") == str(tmp_path / "faust")
    assert _option(command, "--log-level") == "warning"
    assert command[-2:] == ["--lateness", "30"]


def test_without_web_port_no_web_and_profile_runs_under_cprofile(tmp_path: Path) -> None:
    stats = tmp_path / "worker.prof"
    command = WorkerProcess("k:9092", "a", "", tmp_path, profile=stats).command()
    assert "--no-web" in command and "--web-port" not in command
    assert command[:5] == [sys.executable, "-m", "cProfile", "-o", str(stats)]


def test_not_started_is_not_alive_and_stop_is_harmless(tmp_path: Path) -> None:
    worker = WorkerProcess("k:9092", "a", "", tmp_path)
    assert not worker.alive() and worker.cpu_seconds() == 0.0 and worker.log_tail() == ""
    worker.stop()
    worker.kill()
    worker.log.write_text("x" * 10 + "the end")
    assert worker.log_tail(7) == "the end"


def test_process_cpu_seconds_counts_this_process_and_nothing_for_a_gone_one() -> None:
    started = process_cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # burn ~50 ms of CPU
        pass
    assert process_cpu_seconds(os.getpid()) > started
    assert process_cpu_seconds(2**22 + 1) == 0.0  # above Linux's pid_max: no such process
