"""Is a Kafka broker serving requests? Asked over the wire protocol (kafka_wire), without a
client library: ApiVersions, then a Metadata request whose broker list is non-empty only
once the broker is registered and unfenced; over TLS and logged in for SASL_SSL."""

from __future__ import annotations

import os
import socket
import ssl
import struct

from .common import fail
from .kafka_wire import API_METADATA, Credentials, KafkaWireError, connect


def kafka_probe(
    host: str, port: int, credentials: Credentials | None = None, timeout: float = 3.0
) -> str | None:
    """None if the broker serves requests and lists at least one live broker, else why not.
    With `credentials`, over TLS and logged in (the local broker's SASL_SSL listener)."""
    try:
        with connect(host, port, credentials, timeout=timeout) as connection:
            if API_METADATA not in connection.versions:
                return "broker does not support Metadata requests"
            try:
                brokers = connection.broker_count()
            except KafkaWireError:
                return None  # answers ApiVersions and has no layout we speak: good enough
            if brokers < 1:
                return "broker is up but not registered yet"
            return None
    except (OSError, ssl.SSLError, KafkaWireError, struct.error) as exc:
        return str(exc) or type(exc).__name__


def credentials_from_env() -> tuple[str, Credentials | None]:
    """How to probe a broker the environment names: ("probe", credentials) when it is
    PLAINTEXT or SASL_SSL with SCRAM-SHA-512 (what this module speaks), else ("tcp", None)."""
    protocol = os.environ.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").strip() or "PLAINTEXT"
    if protocol == "PLAINTEXT":
        return "probe", None
    mechanism = os.environ.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512").strip()
    user = os.environ.get("KAFKA_SASL_USERNAME", "")
    password = os.environ.get("KAFKA_SASL_PASSWORD", "")
    ca_file = os.environ.get("KAFKA_SSL_CA_FILE", "")
    if protocol == "SASL_SSL" and mechanism == "SCRAM-SHA-512" and user and password and ca_file:
        return "probe", Credentials(user, password, ca_file)
    return "tcp", None


def parse_bootstrap(servers: str) -> list[tuple[str, int]]:
    """'h1:9092,PLAINTEXT://[::1]:9093' -> [('h1', 9092), ('::1', 9093)]."""
    result = []
    for item in servers.split(","):
        item = item.strip().split("://", 1)[-1]
        if not item:
            continue
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            fail(f"cannot parse KAFKA_BOOTSTRAP_SERVERS entry {item!r}: expected host:port")
        result.append((host.strip("[]"), int(port)))
    if not result:
        fail("KAFKA_BOOTSTRAP_SERVERS is empty")
    return result


def kafka_answers(servers: str) -> str | None:
    """None if any bootstrap server answers, else the last reason. Speaks the security the
    environment names (KAFKA_SECURITY_PROTOCOL and the KAFKA_SASL_* settings); for what
    kafka_wire does not speak, a TCP connection is taken as an answer."""
    how, credentials = credentials_from_env()
    reason = "no servers"
    for host, port in parse_bootstrap(servers):
        if how == "tcp":
            try:
                socket.create_connection((host, port), timeout=3.0).close()
                return None
            except OSError as exc:
                problem: str | None = str(exc) or type(exc).__name__
        else:
            problem = kafka_probe(host, port, credentials)
        if problem is None:
            return None
        reason = f"{host}:{port}: {problem}"
    return reason
