"""Builds pathwatch (its metadata is in pyproject.toml) and compiles the modules an event runs
through to C with mypyc (bench/README.md, "Compiled with mypyc").

The sources stay the truth: `pathways/__init__.py` imports them instead when
PATHWATCH_PURE_PYTHON=1, or when one differs from the source that was compiled (the hashes
are written to `pathways/compiled.json`). PATHWATCH_PURE_PYTHON=1 at install time builds
without a C compiler and compiles nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
# The modules an event runs through; they call each other directly once compiled. Only code
# without `async def`: the agents and desks compiled made the worker slower (bench/README.md).
COMPILED = (
    "pathways/clock.py",
    "pathways/compliance.py",
    "pathways/deadlines.py",
    "pathways/destination.py",
    "pathways/due.py",
    "pathways/engine.py",
    "pathways/events.py",
    "pathways/intervals.py",
    "pathways/outputs.py",
    "pathways/prealerts.py",
    "pathways/quality.py",
    "pathways/replay.py",
    "pathways/rulepack.py",
    "pathways/timeline.py",
    "geo/distance.py",
    "geo/geofence.py",
    "geo/lookup.py",
    "geo/nearest.py",
    "geo/regions.py",
    "streams/clock.py",
    "streams/feeds.py",
    "streams/incident_record.py",
    "streams/ingest.py",
)
MANIFEST = ROOT / "pathways" / "compiled.json"


def write_manifest() -> None:
    """The hash of each source as compiled, by module name, which `pathways/__init__.py`
    checks."""
    hashes = {
        path.removesuffix(".py").replace("/", "."): hashlib.sha256((ROOT / path).read_bytes())
        .hexdigest()
        for path in COMPILED
    }
    MANIFEST.write_text(json.dumps({"sha256": hashes}, indent=1, sort_keys=True) + "\n")


if os.environ.get("PATHWATCH_PURE_PYTHON") == "1":
    MANIFEST.unlink(missing_ok=True)
    setup()
else:
    from mypyc.build import mypycify

    os.chdir(ROOT)  # mypyc reads pyproject's [tool.mypy] and writes build/ here
    write_manifest()
    setup(ext_modules=mypycify(list(COMPILED), opt_level="3"))
