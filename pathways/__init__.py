"""The pure core: contract events, the per-incident engine, rule packs, the offline replay.

The engine's modules (`compiled.json` names them) are compiled to C with mypyc when the
package is built (setup.py). Their sources are imported instead, and `COMPILED` is False, when
PATHWATCH_PURE_PYTHON=1, or when a source is not the one that was compiled (edited since the
build: a warning says so; `pip install -e .` compiles it again). It is all or none: compiled
modules call each other directly, not through the import system.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import warnings
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from importlib.util import spec_from_file_location
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).resolve().parent


def compiled_modules(directory: Path) -> set[str]:
    """The modules of `directory` that have both a source and a compiled extension."""
    return {
        source.stem
        for source in directory.glob("*.py")
        if any((directory / f"{source.stem}{suffix}").exists() for suffix in EXTENSION_SUFFIXES)
    }


def changed_sources(directory: Path, compiled: set[str]) -> list[str]:
    """The compiled modules whose source differs from the one compiled (by `compiled.json`)."""
    try:
        hashes = json.loads((directory / "compiled.json").read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return sorted(compiled)
    return sorted(
        name
        for name in compiled
        if hashes.get(name)
        != hashlib.sha256((directory / f"{name}.py").read_bytes()).hexdigest()
    )


class SourceFinder(MetaPathFinder):
    """Imports the sources of `names` (modules of the package at `directory`)."""

    def __init__(self, package: str, directory: Path, names: set[str]) -> None:
        self.package, self.directory, self.names = package, directory, names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != self.package or name not in self.names:
            return None
        return spec_from_file_location(fullname, self.directory / f"{name}.py")


def _choose() -> tuple[bool, str]:
    compiled = compiled_modules(_HERE)
    if not compiled:
        return False, "pure Python: not compiled (built with PATHWATCH_PURE_PYTHON=1)"
    if os.environ.get("PATHWATCH_PURE_PYTHON") == "1":
        why = "pure Python: PATHWATCH_PURE_PYTHON=1"
    else:
        changed = changed_sources(_HERE, compiled)
        if not changed:
            return True, f"compiled with mypyc: {', '.join(sorted(compiled))}"
        why = f"pure Python: {', '.join(changed)} not as compiled (edited, or another build)"
        warnings.warn(
            f"pathways: {why}; importing every source (`pip install -e .` compiles them again)",
            stacklevel=2,
        )
    sys.meta_path.insert(0, SourceFinder(__name__, _HERE, compiled))
    return False, why


COMPILED, BUILD = _choose()
