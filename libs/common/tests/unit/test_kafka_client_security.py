"""Kafka security settings: what every client is given, and the one-line refusals."""

from __future__ import annotations

import os
import ssl
import subprocess
from pathlib import Path

import pytest
from faststream.kafka.security import parse_security
from faststream.security import SASLScram256, SASLScram512
from yiwang.common.kafka_security import (
    KafkaSecurity,
    KafkaSecurityError,
    faststream_security,
    kafka_client_options,
)
from yiwang.common.settings import CommonSettings


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A self-signed CA certificate (PEM), as the local stack makes one."""
    folder = tmp_path_factory.mktemp("ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
         str(folder / "ca.key"), "-out", str(folder / "ca.crt"), "-days", "1", "-subj", "/CN=t"],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(folder / "ca.crt")


@pytest.fixture(autouse=True)
def no_kafka_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The defaults are what these tests read: not a local stack's settings, which the
    integration tests put in the environment when they run first in the session."""
    for name in [n for n in os.environ if n.startswith("KAFKA_")]:
        monkeypatch.delenv(name)


def settings(**env: str) -> CommonSettings:
    return CommonSettings(**env)  # type: ignore[arg-type]


def sasl_ssl(ca_file: str, **changes: str) -> CommonSettings:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": "broker:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_USERNAME": "yiwang-intake",
        "KAFKA_SASL_PASSWORD": "s3cret",
        "KAFKA_SSL_CA_FILE": ca_file,
        **changes,
    }
    return settings(**env)


def refusal(**fields: str) -> str:
    with pytest.raises(KafkaSecurityError) as caught:
        KafkaSecurity(**fields)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_plaintext_by_default_adds_nothing() -> None:
    assert kafka_client_options(settings()) == {"bootstrap_servers": "localhost:9092"}
    assert faststream_security(settings()) is None


def test_sasl_ssl_gives_every_aiokafka_client_the_user_and_the_ca(ca_file: str) -> None:
    options = kafka_client_options(sasl_ssl(ca_file))
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "broker:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "yiwang-intake",
        "sasl_plain_password": "s3cret",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_faststream_gets_scram_with_the_ssl_context_so_it_is_not_plaintext(ca_file: str) -> None:
    security = faststream_security(sasl_ssl(ca_file))
    assert isinstance(security, SASLScram512)
    parsed = parse_security(security)  # what FastStream hands aiokafka
    assert parsed["security_protocol"] == "SASL_SSL"
    assert isinstance(parsed["ssl_context"], ssl.SSLContext)
    assert parsed["sasl_plain_username"] == "yiwang-intake"
    sha256 = faststream_security(sasl_ssl(ca_file, KAFKA_SASL_MECHANISM="SCRAM-SHA-256"))
    assert isinstance(sha256, SASLScram256)


def test_the_protocol_and_mechanism_may_be_written_in_lower_case(ca_file: str) -> None:
    s = sasl_ssl(ca_file, KAFKA_SECURITY_PROTOCOL="sasl_ssl", KAFKA_SASL_MECHANISM="scram-sha-512")
    assert kafka_client_options(s)["security_protocol"] == "SASL_SSL"


def test_sasl_plaintext_and_ssl_alone(ca_file: str) -> None:
    plain = KafkaSecurity(protocol="SASL_PLAINTEXT", username="u", password="p")
    assert "ssl_context" not in plain.client_options()
    assert parse_security(plain.faststream())["security_protocol"] == "SASL_PLAINTEXT"
    tls = KafkaSecurity(protocol="SSL", ca_file=ca_file)
    assert tls.client_options()["security_protocol"] == "SSL"
    assert parse_security(tls.faststream())["security_protocol"] == "SSL"


def test_missing_or_contradicting_settings_are_one_line_each(ca_file: str) -> None:
    assert "KAFKA_SASL_USERNAME" in refusal(protocol="SASL_SSL", password="p", ca_file=ca_file)
    assert "needs KAFKA_SASL_PASSWORD" in refusal(
        protocol="SASL_SSL", username="yiwang-intake", ca_file=ca_file
    )
    assert "needs KAFKA_SSL_CA_FILE" in refusal(protocol="SASL_SSL", username="u", password="p")
    assert "no such file" in refusal(
        protocol="SASL_SSL", username="u", password="p", ca_file="/nowhere/ca.crt"
    )
    assert "set KAFKA_SECURITY_PROTOCOL=SASL_SSL" in refusal(username="u", password="p")
    assert "is not one of" in refusal(protocol="SASL_TLS")
    assert "KAFKA_SASL_MECHANISM" in refusal(
        protocol="SASL_PLAINTEXT", mechanism="PLAIN", username="u", password="p"
    )


def test_a_file_that_is_no_certificate_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "ca.crt"
    junk.write_text("not a certificate")
    assert "not a readable PEM certificate" in refusal(protocol="SSL", ca_file=str(junk))


def test_the_password_stays_out_of_reprs_and_descriptions(ca_file: str) -> None:
    s = sasl_ssl(ca_file)
    security = KafkaSecurity.from_settings(s)
    assert "s3cret" not in repr(s)
    assert "s3cret" not in repr(security)
    assert security.describe() == "SASL_SSL as yiwang-intake"
