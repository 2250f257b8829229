"""Faust's own limit: the worker's Faust app (same settings, uvloop, GC thresholds, logging)
with one agent over the six input topics that reads every message and does nothing (`read`),
or sends it unchanged to one topic (`forward`). No decoding, no state.

    python bench/faust_passthrough.py BOOTSTRAP PREFIX APP_ID MODE EVENTS RESULT_FILE

The agent writes RESULT_FILE (JSON) when it has handled EVENTS messages: the wall and CPU
seconds from its first message to its last, so start-up is not counted.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import kafka_bench as kb  # noqa: E402

from streams import topics  # noqa: E402

OUTPUT_TOPIC = "bench.faust-passthrough"
MODES = ("read", "forward")


def _serve(bootstrap: str, prefix: str, app_id: str, mode: str, events: int, result: Path
           ) -> None:
    import uvloop

    from streams.app import WorkerOptions, faust_app
    from streams.cli import fewer_gc_passes
    from streams.cli_worker import faust_worker

    options = WorkerOptions(app_id=app_id, topic_prefix=prefix, web_enabled=False,
                            datadir=result.parent / app_id)
    app = faust_app(kb.settings(bootstrap), options)

    def raw(*names: str) -> Any:
        return app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw")

    inputs = raw(*(prefix + name for name in topics.INPUT_TOPICS))
    output = raw(prefix + OUTPUT_TOPIC)
    first: list[float] = []

    @app.agent(inputs, name="passthrough", concurrency=1)
    async def passthrough(stream: Any) -> None:
        seen = 0
        async for event in stream.events():
            if not first:
                first.extend((time.perf_counter(), time.process_time(), time.time() * 1000))
            if mode == "forward":
                await output.send(key=event.message.key, value=event.message.value)
            seen += 1
            if seen == events:
                written = result.with_suffix(".tmp")
                written.write_text(json.dumps({"seconds": time.perf_counter() - first[0],
                                               "cpu_seconds": time.process_time() - first[1],
                                               "window_ms": [first[2], time.time() * 1000]}))
                written.replace(result)

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    fewer_gc_passes()
    faust_worker(app, "warning").execute_from_commandline()


def measure(bootstrap: str, prefix: str, mode: str, events: int, folder: Path,
            timeout_s: float, broker_pid: int | None = None) -> dict[str, Any]:
    """Run the agent on the first `events` messages of the input topics; its figures (and the
    broker's CPU per event in the same window, given its pid)."""
    topics.create_topics(bootstrap, prefix=prefix, names=[OUTPUT_TOPIC])
    app_id = f"{prefix}faust-{mode}"
    result = folder / f"faust-{mode}.json"
    result.unlink(missing_ok=True)  # from an earlier run in the same folder
    with (folder / f"faust-{mode}.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, __file__, bootstrap, prefix, app_id, mode, str(events),
             str(result)], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        with kb.CpuSampler({"broker": broker_pid} if broker_pid else {}) as cpu:
            deadline = time.monotonic() + timeout_s
            while not result.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"Faust {mode} passthrough did not finish: see {log.name}")
                time.sleep(0.2)
        figures = json.loads(result.read_text())
    finally:
        process.terminate()
        process.wait(30)
    return {"events": events, **figures, "events_per_s": events / figures["seconds"],
            **cpu.shares(figures["window_ms"], events, ()),
            "cpu_us_per_event": figures["cpu_seconds"] / events * 1e6}


if __name__ == "__main__":
    bootstrap_arg, prefix_arg, app_arg, mode_arg, events_arg, result_arg = sys.argv[1:7]
    _serve(bootstrap_arg, prefix_arg, app_arg, mode_arg, int(events_arg), Path(result_arg))
