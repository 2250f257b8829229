"""Configuration from the environment, read in one place.

| variable | meaning |
|---|---|
| `PATHWATCH_BOOTSTRAP` | Kafka bootstrap, `host:port[,host:port]` (default `127.0.0.1:9092`) |
| `PATHWATCH_HOME` | cache and state folder (default `~/.cache/pathwatch`) |
| `PATHWATCH_KAFKA_VERSION` | version of the embedded broker (default `4.1.1`) |
| `PATHWATCH_KAFKA_SECURITY_PROTOCOL` | `PLAINTEXT` (default), `SSL`, `SASL_PLAINTEXT`, `SASL_SSL` |
| `PATHWATCH_KAFKA_SASL_MECHANISM` | `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` |
| `PATHWATCH_KAFKA_SASL_USERNAME`, `..._SASL_PASSWORD` | SASL credentials |
| `PATHWATCH_KAFKA_SSL_CAFILE`, `..._SSL_CERTFILE`, `..._SSL_KEYFILE` | TLS files (PEM) |
"""

from __future__ import annotations

import dataclasses
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_KAFKA_VERSION = "4.1.1"
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_KAFKA = "PATHWATCH_KAFKA_"


class PathwatchError(Exception):
    """An error whose message is written for the operator; the CLI prints it without a traceback."""


class SettingsError(PathwatchError):
    """The environment holds an invalid or incomplete configuration."""


@dataclass(frozen=True, slots=True)
class Settings:
    bootstrap: str = DEFAULT_BOOTSTRAP
    home: Path = field(default_factory=lambda: Path.home() / ".cache" / "pathwatch")
    kafka_version: str = DEFAULT_KAFKA_VERSION
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            return env.get(name, "").strip() or None

        home = get("PATHWATCH_HOME")
        mechanism = get(_KAFKA + "SASL_MECHANISM")
        return cls(
            bootstrap=get("PATHWATCH_BOOTSTRAP") or DEFAULT_BOOTSTRAP,
            home=Path(home).expanduser() if home else Path.home() / ".cache" / "pathwatch",
            kafka_version=get("PATHWATCH_KAFKA_VERSION") or DEFAULT_KAFKA_VERSION,
            security_protocol=(get(_KAFKA + "SECURITY_PROTOCOL") or "PLAINTEXT").upper(),
            sasl_mechanism=mechanism.upper() if mechanism else None,
            sasl_username=get(_KAFKA + "SASL_USERNAME"),
            # a password may legitimately start or end with spaces: no strip
            sasl_password=env.get(_KAFKA + "SASL_PASSWORD") or None,
            ssl_cafile=get(_KAFKA + "SSL_CAFILE"),
            ssl_certfile=get(_KAFKA + "SSL_CERTFILE"),
            ssl_keyfile=get(_KAFKA + "SSL_KEYFILE"),
        )

    def with_bootstrap(self, bootstrap: str) -> Settings:
        return dataclasses.replace(self, bootstrap=bootstrap)

    @property
    def bootstrap_servers(self) -> list[str]:
        return [s.strip() for s in self.bootstrap.split(",") if s.strip()]

    @property
    def uses_ssl(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    def kafka_client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer, KafkaAdminClient."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.uses_sasl:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password
        if self.uses_ssl:
            optional = {
                "ssl_cafile": self.ssl_cafile,
                "ssl_certfile": self.ssl_certfile,
                "ssl_keyfile": self.ssl_keyfile,
            }
            kwargs.update({k: v for k, v in optional.items() if v})
        return kwargs

    def aiokafka_client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's AIOKafkaProducer and AIOKafkaConsumer.

        The same settings as `kafka_client_kwargs`, but aiokafka takes TLS as an SSLContext
        (no file names) and the servers as one `host:port,host:port` string.
        """
        kwargs = {k: v for k, v in self.kafka_client_kwargs().items() if not k.startswith("ssl_")}
        kwargs["bootstrap_servers"] = ",".join(self.bootstrap_servers)
        if self.uses_ssl:
            kwargs["ssl_context"] = self.ssl_context()
        return kwargs

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_ssl:
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def faust_broker_url(self) -> str:
        return ";".join(f"kafka://{server}" for server in self.bootstrap_servers)

    def faust_app_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `faust.App(...)`: broker URL and credentials."""
        import faust  # imported here so that pure tools need not load Faust

        kwargs: dict[str, Any] = {"broker": self.faust_broker_url()}
        if self.uses_sasl:
            kwargs["broker_credentials"] = faust.SASLCredentials(
                username=self.sasl_username,
                password=self.sasl_password,
                mechanism=self.sasl_mechanism,
                ssl_context=self.ssl_context(),
            )
        elif self.uses_ssl:
            kwargs["broker_credentials"] = faust.SSLCredentials(self.ssl_context())
        return kwargs


def _validate(settings: Settings) -> None:
    if not settings.bootstrap_servers:
        raise SettingsError("PATHWATCH_BOOTSTRAP is empty; expected host:port[,host:port]")
    protocol = settings.security_protocol
    if protocol not in SECURITY_PROTOCOLS:
        raise SettingsError(
            f"{_KAFKA}SECURITY_PROTOCOL={protocol!r} is not one of {', '.join(SECURITY_PROTOCOLS)}"
        )
    if not settings.uses_sasl:
        return
    if settings.sasl_mechanism not in SASL_MECHANISMS:
        raise SettingsError(
            f"{protocol} needs {_KAFKA}SASL_MECHANISM set to one of {', '.join(SASL_MECHANISMS)}"
            f" (got {settings.sasl_mechanism!r})"
        )
    if not settings.sasl_username or settings.sasl_password is None:
        raise SettingsError(
            f"{protocol} needs {_KAFKA}SASL_USERNAME and {_KAFKA}SASL_PASSWORD"
        )
