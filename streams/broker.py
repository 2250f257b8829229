"""An embedded single-node Apache Kafka (KRaft, broker and controller in one JVM).

The broker folder holds `server.properties`, `log4j2.properties`, `broker.pid`, `logs/` and
`data/` (KRaft metadata and topic logs). Stopping keeps `data/`, so topics survive a restart.
It listens on 127.0.0.1 only, without TLS or SASL. Linux only (process checks use /proc).
"""

from __future__ import annotations

import base64
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path

from streams import kafka_dist
from streams.kafka_dist import file_lock
from streams.settings import PathwatchError, Settings
from streams.topics import MAX_MESSAGE_BYTES, admin_client

HOST = "127.0.0.1"
DEFAULT_PORT = 9092
_JVM_FLAGS = ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true"]


class BrokerError(PathwatchError):
    """The embedded broker could not be fetched, started or stopped."""


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str | None  # of the running broker
    data_dir: Path
    version: str


class Broker:
    def __init__(
        self,
        data_dir: Path | str | None = None,
        port: int = DEFAULT_PORT,
        controller_port: int | None = None,
        *,
        settings: Settings | None = None,
        heap: str = "512m",
        first_join_wait_ms: int = 0,
    ) -> None:
        """`first_join_wait_ms`: how long a new consumer group's first assignment waits for
        more members (`group.initial.rebalance.delay.ms`; Kafka's default is 3000). 0 lets a
        lone worker or test start at once; workers started together and measured together
        (bench/bench_e2e.py) want it, or the first one takes every partition and hands half
        of them over at the next heartbeat."""
        self.settings = settings or Settings.from_env()
        self.data_dir = Path(data_dir) if data_dir else self.settings.home / "broker"
        self.port = port
        self.controller_port = controller_port or port + 1
        self.heap = heap
        self.first_join_wait_ms = first_join_wait_ms
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def version(self) -> str:
        return self.settings.kafka_version

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "server.log"

    def fetch(self) -> Path:
        if shutil.which("java") is None:
            raise BrokerError("Java ('java', 17 or newer) is not on PATH; Kafka's broker needs it")
        return kafka_dist.fetch(self.settings.home, self.version)

    def status(self) -> BrokerStatus:
        pid = self._running_pid()
        bootstrap = _configured_bootstrap(self.data_dir / "server.properties") if pid else None
        return BrokerStatus(pid is not None, pid, bootstrap, self.data_dir, self.version)

    def start(self, timeout: float = 60.0, *, tie_to_parent: bool = False) -> Broker:
        """Start the broker, or return at once if one is already running in this folder.

        With `tie_to_parent` the JVM gets SIGTERM when this process dies (test sessions).
        """
        libs = self.fetch()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.data_dir / ".lock"):
            running = self.status()
            if running.running and running.bootstrap != self.bootstrap:
                raise BrokerError(
                    f"a broker already runs in {self.data_dir} at {running.bootstrap}; "
                    "stop it first or use another --dir"
                )
            if not running.running:
                self.pid_file.unlink(missing_ok=True)
                for port in (self.port, self.controller_port):
                    if not port_is_free(port):
                        raise BrokerError(f"port {port} on {HOST} is in use by another process")
                self._write_config()
                self._format_storage(libs)
                self._launch(libs, tie_to_parent)
        # also when it was running: another caller may have launched it a moment ago
        self._wait_until_ready(timeout)
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL after `timeout`). False if none was running."""
        if not self.data_dir.is_dir():
            return False
        with file_lock(self.data_dir / ".lock"):
            pid = self._running_pid()
            if pid is not None:
                _terminate(pid, timeout)
            self.pid_file.unlink(missing_ok=True)
            self._process = None
        return pid is not None

    # -- internals ---------------------------------------------------------------------------

    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        config = str(self.data_dir / "server.properties")
        return pid if _is_alive(pid) and _cmdline_has(pid, config) else None

    def _write_config(self) -> None:
        (self.data_dir / "logs").mkdir(exist_ok=True)
        properties = _server_properties(self.data_dir / "data", self.port, self.controller_port,
                                        self.first_join_wait_ms)
        (self.data_dir / "server.properties").write_text(properties)
        (self.data_dir / "log4j2.properties").write_text(_LOG4J2.format(log=self.log_file))

    def _java(self, libs: Path, main: str, *args: str) -> list[str]:
        log4j = self.data_dir / "log4j2.properties"
        return [
            "java", f"-Xmx{self.heap}", "-Xms128m", *_JVM_FLAGS,
            f"-Dlog4j2.configurationFile={log4j}", f"-Dkafka.logs.dir={self.log_file.parent}",
            "-cp", f"{libs}/*", main, *args,
        ]

    def _format_storage(self, libs: Path) -> None:
        if (self.data_dir / "data" / "meta.properties").is_file():
            return
        command = self._java(
            libs, "kafka.tools.StorageTool", "format", "--standalone",
            "--cluster-id", _cluster_id(), "--config", str(self.data_dir / "server.properties"),
        )
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise BrokerError(f"formatting KRaft storage failed:\n{done.stdout}{done.stderr}")

    def _launch(self, libs: Path, tie_to_parent: bool) -> None:
        command = self._java(libs, "kafka.Kafka", str(self.data_dir / "server.properties"))
        with (self.data_dir / "logs" / "stdout.log").open("ab") as out:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.data_dir, start_new_session=True,
                preexec_fn=die_with_parent() if tie_to_parent else None,
            )
        self.pid_file.write_text(f"{self._process.pid}\n")

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._has_exited():
                self.pid_file.unlink(missing_ok=True)
                raise BrokerError(f"the broker exited during start-up:\n{self._log_tail()}")
            if is_ready(self.bootstrap, Settings(bootstrap=self.bootstrap)):  # PLAINTEXT
                return
            time.sleep(0.25)
        self.stop(timeout=10)
        raise BrokerError(f"the broker was not ready within {timeout:.0f}s:\n{self._log_tail()}")

    def _has_exited(self) -> bool:
        if self._process is not None:
            # Our own child: ask it. Its /proc/PID/cmdline can read empty for a moment after
            # launch (the java launcher may re-exec itself), which `_running_pid` takes as gone.
            return self._process.poll() is not None
        return self._running_pid() is None

    def _log_tail(self, lines: int = 20) -> str:
        text = []
        for path in (self.data_dir / "logs" / "stdout.log", self.log_file):
            if path.is_file():
                text += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text) or f"(no log in {self.log_file.parent})"


def is_ready(bootstrap: str, settings: Settings | None = None) -> bool:
    """True when a Kafka client can connect and fetch cluster metadata."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with closing(socket.create_connection((host, int(port)), timeout=1.0)):
            pass
    except OSError:
        return False
    settings = (settings or Settings.from_env()).with_bootstrap(bootstrap)
    try:
        with admin_client(settings, bootstrap_timeout_s=3.0, request_timeout_s=5.0) as admin:
            admin.list_topics()
    except Exception:
        return False
    return True


def free_ports(count: int = 1) -> list[int]:
    """Ports free on 127.0.0.1 now (all sockets are held until every port is picked)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_is_free(port: int) -> bool:
    with closing(socket.socket()) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM binds
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _server_properties(data: Path, port: int, controller_port: int, first_join_wait_ms: int
                       ) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data),
        "num.partitions": "6",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "12",  # fewer than 50: faster first group join
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "12",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": str(first_join_wait_ms),
        # Topics come from `pathwatch topics create` (6 partitions) or Faust's own declarations
        # (changelogs, repartitions, leader topic); a typo'd name must fail, not appear empty.
        "auto.create.topics.enable": "false",
        "message.max.bytes": str(MAX_MESSAGE_BYTES),
        "replica.fetch.max.bytes": str(MAX_MESSAGE_BYTES),
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


_LOG4J2 = """status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {log}
appender.file.filePattern = {log}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


def _configured_bootstrap(properties: Path) -> str | None:
    try:
        lines = properties.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("listeners="):
            return line.split("PLAINTEXT://", 1)[1].split(",", 1)[0]
    return None


def _cluster_id() -> str:
    # Kafka's Uuid.toString(): url-safe base64 of 16 bytes, unpadded; it rejects a leading '-'.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _is_alive(pid: int) -> bool:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return False
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    state = fields.get("State", "R").split()[0]
    # The JVM's main thread can exit before the others: then the process shows as a zombie
    # while still running, so it is gone only once no thread is left.
    if state in ("Z", "X") and int(fields.get("Threads", "1")) <= 1:
        with suppress(ChildProcessError):  # reap it if it is our child; init reaps the others
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def _cmdline_has(pid: int, needle: str) -> bool:
    """Guard against a recycled pid: the process must be the JVM started with our config."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"kafka.Kafka" in args and needle.encode() in args


def _terminate(pid: int, timeout: float) -> None:
    for sig, wait_s in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not _is_alive(pid):
                return
            time.sleep(0.1)
    raise BrokerError(f"broker process {pid} did not exit after SIGKILL")


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn`: the child gets SIGTERM when this process dies (Linux)."""
    # Resolved before fork so the child only makes one C call between fork and exec.
    prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    pr_set_pdeathsig = 1

    def child() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return child

