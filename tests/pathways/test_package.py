"""`pathways/__init__.py`: the compiled modules (of `pathways`, `geo` and `streams`) are used only
while they match the sources, and a replay gives the same outputs compiled and on the sources."""

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


def _manifest(root: Path, *names: str) -> Path:
    hashes = {n: hashlib.sha256(pathways.source_of(root, n).read_bytes()).hexdigest()
              for n in names}
    manifest = root / "compiled.json"
    manifest.write_text(json.dumps({"sha256": hashes}))
    return manifest


def test_a_module_is_compiled_when_it_has_both_a_source_and_an_extension(tmp_path: Path) -> None:
    for name in ("a/engine.py", f"a/engine{SUFFIX}", "a/events.py", f"a/helper{SUFFIX}",
                 "b/feeds.py", f"b/feeds{SUFFIX}", "c/clock.py", f"c/clock{SUFFIX}"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    assert compiled_modules(tmp_path, ("a", "b")) == {"a.engine", "b.feeds"}


def test_a_source_edited_after_the_build_is_found(tmp_path: Path) -> None:
    for name in ("pkg/engine", "geo/replay"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / f"{name}.py").write_text(f"# {name}\n")
    manifest = _manifest(tmp_path, "pkg.engine", "geo.replay")
    assert changed_sources(tmp_path, manifest, {"pkg.engine", "geo.replay"}) == []
    (tmp_path / "geo" / "replay.py").write_text("# replay, edited\n")
    assert changed_sources(tmp_path, manifest, {"pkg.engine", "geo.replay"}) == ["geo.replay"]


def test_without_a_readable_manifest_every_compiled_module_counts_as_changed(
    tmp_path: Path,
) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "engine.py").write_text("")
    manifest = tmp_path / "compiled.json"
    assert changed_sources(tmp_path, manifest, {"pkg.engine"}) == ["pkg.engine"]
    manifest.write_text("{not json")
    assert changed_sources(tmp_path, manifest, {"pkg.engine"}) == ["pkg.engine"]


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
    finder = pathways.SourceFinder(folder.parent, {f"{name}.mod"})
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
    # geo and streams first: the choice is made before any of their modules loads
    code = ("import geo.regions as g, streams.ingest as i, pathways.engine as e, pathways; "
            "print(pathways.COMPILED, g.__file__, i.__file__, e.__file__)")
    return _run(["-c", code], pure).stdout.strip()


def test_pure_python_imports_every_source() -> None:
    compiled, *paths = _build(pure=True).split(" ")
    assert compiled == "False" and all(path.endswith(".py") for path in paths), paths


def test_the_build_imports_every_package_compiled_or_none() -> None:
    compiled, *paths = _build(pure=False).split(" ")
    assert {path.endswith(".py") for path in paths} == {compiled == "False"}, paths


def test_the_guard_sees_every_module_the_build_compiled() -> None:
    # a module setup.py compiles in a package outside `pathways.PACKAGES` would escape the guard
    root = Path(pathways.__file__).resolve().parents[1]
    manifest = Path(pathways.__file__).with_name("compiled.json")
    if not manifest.exists():
        assert not pathways.COMPILED  # built with PATHWATCH_PURE_PYTHON=1
        return
    assert set(json.loads(manifest.read_text())["sha256"]) == compiled_modules(root)


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
