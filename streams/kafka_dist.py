"""Fetch the Apache Kafka broker jars from Maven Central, once, into the pathwatch cache."""

from __future__ import annotations

import fcntl
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streams.settings import PathwatchError

# slf4j 1.x (what kafka_2.13 depends on) + log4j2: the logging stack the Kafka 4 tarball ships.
LOG4J_VERSION = "2.24.3"
_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>pathwatch</groupId><artifactId>kafka-broker-jars</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
</project>
"""
_MARKER = "COMPLETE"


class FetchError(PathwatchError):
    """The Kafka jars could not be fetched."""


def libs_dir(home: Path, version: str) -> Path:
    return home / "kafka" / version / "libs"


def is_fetched(home: Path, version: str) -> bool:
    return (home / "kafka" / version / _MARKER).is_file()


def fetch(home: Path, version: str, timeout_s: float = 900.0) -> Path:
    """Return the folder holding the broker's runtime jars, downloading them on first use."""
    root = home / "kafka" / version
    libs = root / "libs"
    if is_fetched(home, version):
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FetchError(
            "Maven ('mvn') is not on PATH; it is needed once to fetch the Kafka broker jars "
            "(Debian: apt-get install maven)"
        )
    root.mkdir(parents=True, exist_ok=True)
    with file_lock(root / ".lock"):
        if is_fetched(home, version):  # another process fetched while we waited
            return libs
        (root / "pom.xml").write_text(_POM.format(kafka=version, log4j=LOG4J_VERSION))
        staging = root / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(libs, ignore_errors=True)
        _run_maven(mvn, root, staging, timeout_s)
        staging.rename(libs)
        (root / _MARKER).write_text(f"fetched {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
    return libs


def _run_maven(mvn: str, root: Path, out: Path, timeout_s: float) -> None:
    command = [
        # -U: retry artifacts whose earlier download failed (Maven caches failures)
        mvn, "-q", "-B", "-U", "-Dstyle.color=never", "-f", str(root / "pom.xml"),
        "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={out}",
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"fetching the Kafka jars with Maven took over {timeout_s:.0f}s") from exc
    if done.returncode != 0 or not any(out.glob("kafka_2.13-*.jar")):
        output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr).splitlines()
        errors = [line for line in output if line.startswith("[ERROR] ") and line[8:].strip()]
        tail = "\n".join(errors[:1] or output[-5:])  # Maven's first error is the cause
        raise FetchError(
            f"Maven could not fetch org.apache.kafka:kafka_2.13:{out.parent.name} "
            f"(exit {done.returncode}); check the version and that Maven Central is reachable:\n"
            f"{tail}"
        )


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock between processes (fetch, start and stop of one folder)."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
