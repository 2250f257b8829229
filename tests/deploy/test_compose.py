"""compose.yaml and the Dockerfile, checked without Docker (the CI machine has none)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from streams.cli import build_parser

PATHWATCH_SERVICES = ("topics", "worker-1", "worker-2", "simulator")
_DEFAULTED = re.compile(r"^\$\{[A-Z0-9_]+:-(?P<default>[^}]+)\}$")


def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def test_the_stack_has_its_services(compose: dict[str, Any]) -> None:
    names = set(services(compose))
    assert {
        "kafka",
        "topics",
        "worker-1",
        "worker-2",
        "simulator",
        "prometheus",
        "grafana",
    } <= names
    assert services(compose)["simulator"]["profiles"] == ["simulator"]
    assert not any("zookeeper" in name for name in names)


def test_kafka_is_the_official_image_in_kraft_mode(compose: dict[str, Any]) -> None:
    kafka = services(compose)["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert "healthcheck" in kafka


def test_depends_on_conditions_are_satisfiable(compose: dict[str, Any]) -> None:
    every = services(compose)
    for name, service in every.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in every, f"{name} depends on unknown {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in every[target], f"{target} has no health check"
            elif condition == "service_completed_successfully":
                assert every[target].get("restart") == "no", f"{target} must run once"
            else:
                assert condition == "service_started"
            assert "simulator" not in (every[target].get("profiles") or []) or (
                "simulator" in (service.get("profiles") or [])
            )


def test_every_mounted_file_exists(compose: dict[str, Any], root: Path) -> None:
    for name, service in services(compose).items():
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (root / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in compose["volumes"], f"{name}: undeclared volume {source}"
        for secret in service.get("secrets") or []:
            assert secret in compose["secrets"]
    for secret in compose["secrets"].values():
        match = _DEFAULTED.match(secret["file"])
        path = match.group("default") if match else secret["file"]
        assert (root / path).is_file(), f"secret file {path} does not exist"


def test_ports_are_local_unique_and_match_the_commands(compose: dict[str, Any]) -> None:
    host_ports: list[str] = []
    for name, service in services(compose).items():
        for mapping in service.get("ports") or []:
            host_ip, host_port, container_port = mapping.split(":")
            assert host_ip == "127.0.0.1", f"{name} publishes {mapping} beyond this machine"
            host_ports.append(host_port)
            command = service.get("command") or []
            if "--web-port" in command:
                assert command[command.index("--web-port") + 1] == container_port
    assert len(host_ports) == len(set(host_ports))


def test_prometheus_scrapes_every_worker_on_its_web_port(
    compose: dict[str, Any], root: Path
) -> None:
    config = yaml.safe_load((root / "deploy/prometheus/prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "pathwatch")
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    workers = {n: s for n, s in services(compose).items() if n.startswith("worker")}
    expected = {
        f"{n}:{s['command'][s['command'].index('--web-port') + 1]}" for n, s in workers.items()
    }
    assert targets == expected
    for command in (s["command"] for s in workers.values()):
        assert command[command.index("--web-host") + 1] == "0.0.0.0"  # reachable in its network


def _known_env_names(root: Path) -> set[str]:
    names: set[str] = set()
    for path in (root / "streams").rglob("*.py"):
        names.update(re.findall(r"PATHWATCH_[A-Z0-9_]+", path.read_text(encoding="utf-8")))
    return names


def test_pathwatch_services_run_real_commands_with_known_settings(
    compose: dict[str, Any], root: Path
) -> None:
    known = _known_env_names(root)
    parser = build_parser()
    for name in PATHWATCH_SERVICES:
        service = services(compose)[name]
        assert service["image"].startswith("pathwatch") and service["build"] == "."
        parser.parse_args(service["command"])  # exits (fails the test) on an unknown option
        env = service.get("environment") or {}
        unknown = {k for k in env if k.startswith("PATHWATCH_") and k not in known}
        assert not unknown, f"{name}: pathwatch does not read {sorted(unknown)}"
        assert env.get("PATHWATCH_BOOTSTRAP") == "kafka:9092"


def test_dockerfile_copies_what_exists_and_runs_pathwatch(root: Path) -> None:
    lines = (root / "Dockerfile").read_text().splitlines()
    for line in lines:
        if line.startswith("COPY "):
            for source in shlex.split(line)[1:-1]:
                if not source.endswith("*"):
                    assert (root / source).exists(), f"COPY {source}: missing"
    assert 'ENTRYPOINT ["pathwatch"]' in lines
    assert any(line.startswith("EXPOSE 6066") for line in lines)
    assert any(line.startswith("USER ") and "root" not in line for line in lines)


def test_grafana_provisioning_matches_the_mounts(compose: dict[str, Any], root: Path) -> None:
    grafana = services(compose)["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"] if v.startswith("."))
    provider = yaml.safe_load(
        (root / "deploy/grafana/provisioning/dashboards/pathwatch.yml").read_text()
    )["providers"][0]
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    datasource = yaml.safe_load(
        (root / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    import json

    for board in Path(root / "deploy/grafana/dashboards").glob("*.json"):
        text = json.loads(board.read_text())
        uids = {p["datasource"]["uid"] for p in text["panels"] if "datasource" in p}
        assert uids == {datasource["uid"]}, board.name
