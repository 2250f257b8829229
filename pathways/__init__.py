"""The pure core: contract events, the per-incident engine, rule packs, the offline replay.

The modules an event runs through, here and in `geo` and `streams` (`compiled.json` names
them), are compiled to C with mypyc when the package is built (setup.py). Their sources are
imported instead, and `COMPILED` is False, when PATHWATCH_PURE_PYTHON=1, or when a source is
not the one that was compiled (edited since the build: a warning says so; `pip install -e .`
compiles it again). It is all or none, for the three packages: compiled modules call each
other directly, not through the import system. So `geo` and `streams` import this package
first, and this choice is made before any of their modules loads.
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
_ROOT = _HERE.parent
PACKAGES = ("pathways", "geo", "streams")  # the packages with compiled modules


def compiled_modules(root: Path, packages: Sequence[str] = PACKAGES) -> set[str]:
    """The modules of `packages` (folders of `root`) that have both a source and a compiled
    extension, by dotted name."""
    return {
        f"{package}.{source.stem}"
        for package in packages
        for source in (root / package).glob("*.py")
        if any((root / package / f"{source.stem}{suffix}").exists()
               for suffix in EXTENSION_SUFFIXES)
    }


def source_of(root: Path, module: str) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def changed_sources(root: Path, manifest: Path, compiled: set[str]) -> list[str]:
    """The compiled modules whose source differs from the one compiled (by `manifest`)."""
    try:
        hashes = json.loads(manifest.read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return sorted(compiled)
    return sorted(
        name
        for name in compiled
        if hashes.get(name) != hashlib.sha256(source_of(root, name).read_bytes()).hexdigest()
    )


class SourceFinder(MetaPathFinder):
    """Imports the sources of `names` (dotted module names under `root`)."""

    def __init__(self, root: Path, names: set[str]) -> None:
        self.root, self.names = root, names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in self.names:
            return None
        return spec_from_file_location(fullname, source_of(self.root, fullname))


def _choose() -> tuple[bool, str]:
    compiled = compiled_modules(_ROOT)
    if not compiled:
        return False, "pure Python: not compiled (built with PATHWATCH_PURE_PYTHON=1)"
    if os.environ.get("PATHWATCH_PURE_PYTHON") == "1":
        why = "pure Python: PATHWATCH_PURE_PYTHON=1"
    else:
        changed = changed_sources(_ROOT, _HERE / "compiled.json", compiled)
        if not changed:
            return True, f"compiled with mypyc: {', '.join(sorted(compiled))}"
        why = f"pure Python: {', '.join(changed)} not as compiled (edited, or another build)"
        warnings.warn(
            f"pathways: {why}; importing every source (`pip install -e .` compiles them again)",
            stacklevel=2,
        )
    sys.meta_path.insert(0, SourceFinder(_ROOT, compiled))
    return False, why


COMPILED, BUILD = _choose()
