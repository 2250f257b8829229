"""`pathways/__init__.py`: the compiled modules are used only while they match the sources, and
a replay gives the same outputs compiled and on the sources."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

import pathways
from geo.regions import load_region
from pathways import changed_sources, compiled_modules
from pathways import events as ev
from simulators.city import generate
from simulators.scenario import Scenario

SUFFIX = EXTENSION_SUFFIXES[0]  # e.g. .cpython-311-x86_64-linux-gnu.so


def _manifest(directory: Path, *names: str) -> None:
    hashes = {n: hashlib.sha256((directory / f"{n}.py").read_bytes()).hexdigest() for n in names}
    (directory / "compiled.json").write_text(json.dumps({"sha256": hashes}))


def test_a_module_is_compiled_when_it_has_both_a_source_and_an_extension(tmp_path: Path) -> None:
    for name in ("engine.py", f"engine{SUFFIX}", "events.py", f"helper{SUFFIX}"):
        (tmp_path / name).write_text("")
    assert compiled_modules(tmp_path) == {"engine"}


def test_a_source_edited_after_the_build_is_found(tmp_path: Path) -> None:
    for name in ("engine", "replay"):
        (tmp_path / f"{name}.py").write_text(f"# {name}\n")
        (tmp_path / f"{name}{SUFFIX}").write_text("")
    _manifest(tmp_path, "engine", "replay")
    assert changed_sources(tmp_path, {"engine", "replay"}) == []
    (tmp_path / "replay.py").write_text("# replay, edited\n")
    assert changed_sources(tmp_path, {"engine", "replay"}) == ["replay"]


def test_without_a_readable_manifest_every_compiled_module_counts_as_changed(
    tmp_path: Path,
) -> None:
    (tmp_path / "engine.py").write_text("")
    assert changed_sources(tmp_path, {"engine"}) == ["engine"]
    (tmp_path / "compiled.json").write_text("{not json")
    assert changed_sources(tmp_path, {"engine"}) == ["engine"]


@pytest.fixture
def package_with_a_broken_extension(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A package whose module `mod` has a source and an extension that cannot load."""
    name = "pw_fake_package"
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "mod.py").write_text("WHERE = 'source'\n")
    (folder / f"mod{SUFFIX}").write_text("not a shared object")
    sys.path.insert(0, str(tmp_path))
    yield name, folder
    sys.path.remove(str(tmp_path))
    for module in [m for m in sys.modules if m.startswith(name)]:
        del sys.modules[module]


def test_the_source_finder_imports_the_source_over_the_extension(
    package_with_a_broken_extension: tuple[str, Path],
) -> None:
    name, folder = package_with_a_broken_extension
    with pytest.raises(ImportError):  # the extension is what Python imports first
        __import__(f"{name}.mod")
    sys.modules.pop(f"{name}.mod", None)
    finder = pathways.SourceFinder(name, folder, {"mod"})
    sys.meta_path.insert(0, finder)
    try:
        module = __import__(f"{name}.mod", fromlist=["WHERE"])
    finally:
        sys.meta_path.remove(finder)
    assert module.WHERE == "source"


def _run(argv: list[str], pure: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PATHWATCH_PURE_PYTHON"}
    if pure:
        env["PATHWATCH_PURE_PYTHON"] = "1"
    return subprocess.run([sys.executable, *argv], env=env, text=True, capture_output=True,
                          check=True, timeout=300)


def _build(pure: bool) -> str:
    code = "import pathways, pathways.engine as e; print(pathways.COMPILED, e.__file__)"
    return _run(["-c", code], pure).stdout.strip()


def test_pure_python_imports_every_source() -> None:
    compiled, path = _build(pure=True).split(" ", 1)
    assert compiled == "False" and path.endswith("engine.py")


def test_a_replay_gives_the_same_outputs_compiled_and_on_the_sources(tmp_path: Path) -> None:
    start = datetime(2026, 11, 24, 8, tzinfo=UTC)
    events = generate(load_region(), Scenario(calls_per_hour=120.0), 3, start, timedelta(hours=6))
    stream = tmp_path / "city.jsonl"
    stream.write_bytes(b"".join(ev.dumps(e) + b"\n" for e in events))
    outputs = []
    for pure in (False, True):
        intervals, alerts = tmp_path / f"intervals-{pure}.jsonl", tmp_path / f"alerts-{pure}.jsonl"
        report = _run(["-m", "streams.cli", "replay", str(stream), "--region", "demo",
                       "--intervals", str(intervals), "--alerts", str(alerts), "--report"], pure)
        outputs.append((intervals.read_text(), alerts.read_text(), report.stdout))
    assert _build(pure=False).startswith(str(pathways.COMPILED))  # what was compared
    assert outputs[0][0].count("\n") > 500 and outputs[0][1].count("\n") > 20
    assert outputs[0] == outputs[1]
