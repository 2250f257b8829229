"""Builds pathwatch (its metadata is in pyproject.toml) and compiles the engine's modules to C
with mypyc: the replay runs 0.66x the instructions an event, the worker 0.89x (bench/README.md).

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
# The modules an incident event runs through; they call each other directly once compiled.
COMPILED = (
    "clock",
    "compliance",
    "deadlines",
    "events",
    "engine",
    "intervals",
    "quality",
    "replay",
    "rulepack",
    "timeline",
)
MANIFEST = ROOT / "pathways" / "compiled.json"


def sources() -> list[str]:
    return [f"pathways/{name}.py" for name in COMPILED]


def write_manifest() -> None:
    """The hash of each source as compiled, which `pathways/__init__.py` checks."""
    hashes = {
        name: hashlib.sha256((ROOT / "pathways" / f"{name}.py").read_bytes()).hexdigest()
        for name in COMPILED
    }
    MANIFEST.write_text(json.dumps({"sha256": hashes}, indent=1, sort_keys=True) + "\n")


if os.environ.get("PATHWATCH_PURE_PYTHON") == "1":
    MANIFEST.unlink(missing_ok=True)
    setup()
else:
    from mypyc.build import mypycify

    os.chdir(ROOT)  # mypyc reads pyproject's [tool.mypy] and writes build/ here
    write_manifest()
    setup(ext_modules=mypycify(sources(), opt_level="3"))
