"""Settings come from the environment and reach kafka-python and Faust unchanged."""

from __future__ import annotations

import ssl
from pathlib import Path

import faust
import pytest

from streams.settings import DEFAULT_BOOTSTRAP, Settings, SettingsError

SASL_SSL_ENV = {
    "PATHWATCH_BOOTSTRAP": "kafka-1.example:9093, kafka-2.example:9093",
    "PATHWATCH_HOME": "/srv/pathwatch",
    "PATHWATCH_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
    "PATHWATCH_KAFKA_SASL_MECHANISM": "scram-sha-512",
    "PATHWATCH_KAFKA_SASL_USERNAME": "pathwatch",
    "PATHWATCH_KAFKA_SASL_PASSWORD": " s3cret ",
}


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings.bootstrap == DEFAULT_BOOTSTRAP == "127.0.0.1:9092"
    assert settings.home == Path.home() / ".cache" / "pathwatch"
    assert settings.kafka_client_kwargs() == {
        "bootstrap_servers": ["127.0.0.1:9092"],
        "security_protocol": "PLAINTEXT",
    }
    assert settings.faust_app_kwargs() == {"broker": "kafka://127.0.0.1:9092"}
    assert settings.ssl_context() is None


def test_sasl_ssl_passes_through_to_kafka_python() -> None:
    settings = Settings.from_env(SASL_SSL_ENV)
    assert settings.home == Path("/srv/pathwatch")
    assert settings.kafka_client_kwargs() == {
        "bootstrap_servers": ["kafka-1.example:9093", "kafka-2.example:9093"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "pathwatch",
        "sasl_plain_password": " s3cret ",  # passwords are taken verbatim
    }


def test_kafka_python_knows_every_key() -> None:
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    keys = set(Settings.from_env(SASL_SSL_ENV).kafka_client_kwargs())
    keys |= {"ssl_cafile", "ssl_certfile", "ssl_keyfile"}
    for client in (KafkaProducer, KafkaConsumer, KafkaAdminClient):
        # the clients raise KafkaConfigurationError on a key not in DEFAULT_CONFIG
        assert keys <= set(client.DEFAULT_CONFIG), client.__name__


def test_sasl_ssl_passes_through_to_aiokafka() -> None:
    kwargs = Settings.from_env(SASL_SSL_ENV).aiokafka_client_kwargs()
    assert isinstance(kwargs.pop("ssl_context"), ssl.SSLContext)  # aiokafka takes no file names
    assert kwargs == {
        "bootstrap_servers": "kafka-1.example:9093,kafka-2.example:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "pathwatch",
        "sasl_plain_password": " s3cret ",
    }
    plain = Settings.from_env({}).aiokafka_client_kwargs()
    assert plain == {"bootstrap_servers": "127.0.0.1:9092", "security_protocol": "PLAINTEXT"}


def test_aiokafka_knows_every_key() -> None:
    import inspect

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    keys = set(Settings.from_env(SASL_SSL_ENV).aiokafka_client_kwargs())
    for client in (AIOKafkaProducer, AIOKafkaConsumer):
        # unknown keyword arguments are a TypeError
        assert keys <= set(inspect.signature(client).parameters), client.__name__


def test_sasl_ssl_passes_through_to_faust() -> None:
    kwargs = Settings.from_env(SASL_SSL_ENV).faust_app_kwargs()
    assert kwargs["broker"] == "kafka://kafka-1.example:9093;kafka://kafka-2.example:9093"
    credentials = kwargs["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("pathwatch", " s3cret ")
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.protocol.value == "SASL_SSL"
    assert isinstance(credentials.ssl_context, ssl.SSLContext)
    app = faust.App("settings-test", **kwargs)
    assert app.conf.broker_credentials is credentials


def test_sasl_plaintext_has_no_tls() -> None:
    env = {**SASL_SSL_ENV, "PATHWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}
    settings = Settings.from_env(env)
    assert not any(key.startswith("ssl_") for key in settings.kafka_client_kwargs())
    credentials = settings.faust_app_kwargs()["broker_credentials"]
    assert credentials.protocol.value == "SASL_PLAINTEXT"
    assert credentials.ssl_context is None


def test_ssl_files_pass_through(tmp_path: Path) -> None:
    cafile = _write_ca(tmp_path)
    env = {
        "PATHWATCH_KAFKA_SECURITY_PROTOCOL": "SSL",
        "PATHWATCH_KAFKA_SSL_CAFILE": str(cafile),
        "PATHWATCH_KAFKA_SSL_CERTFILE": "/etc/pathwatch/client.pem",
        "PATHWATCH_KAFKA_SSL_KEYFILE": "/etc/pathwatch/client.key",
    }
    kwargs = Settings.from_env(env).kafka_client_kwargs()
    assert kwargs["security_protocol"] == "SSL"
    assert kwargs["ssl_cafile"] == str(cafile)
    assert kwargs["ssl_certfile"] == "/etc/pathwatch/client.pem"
    assert kwargs["ssl_keyfile"] == "/etc/pathwatch/client.key"
    assert "sasl_mechanism" not in kwargs

    ca_only = Settings.from_env({k: v for k, v in env.items() if "_SSL_" not in k or "CA" in k})
    credentials = ca_only.faust_app_kwargs()["broker_credentials"]
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context.verify_mode == ssl.CERT_REQUIRED
    assert len(credentials.context.get_ca_certs()) == 1  # our CA file was loaded


def test_password_is_not_in_repr() -> None:
    assert "s3cret" not in repr(Settings.from_env(SASL_SSL_ENV))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PATHWATCH_KAFKA_SECURITY_PROTOCOL": "TLS"}, "SECURITY_PROTOCOL='TLS'"),
        ({"PATHWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "SASL_MECHANISM"),
        (
            {"PATHWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
             "PATHWATCH_KAFKA_SASL_MECHANISM": "PLAIN"},
            "SASL_USERNAME",
        ),
        ({"PATHWATCH_BOOTSTRAP": " , "}, "PATHWATCH_BOOTSTRAP"),
    ],
)
def test_incomplete_configuration_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_with_bootstrap_keeps_security() -> None:
    moved = Settings.from_env(SASL_SSL_ENV).with_bootstrap("10.0.0.5:9093")
    assert moved.bootstrap_servers == ["10.0.0.5:9093"]
    assert moved.security_protocol == "SASL_SSL"


def _write_ca(folder: Path) -> Path:
    """A throwaway self-signed CA certificate (the stdlib cannot make one; openssl can)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test CA certificate")
    cert, key = folder / "ca.pem", folder / "ca.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=pathwatch-test-ca", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert
