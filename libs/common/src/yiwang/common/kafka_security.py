"""How every Kafka client of a process connects: the protocol, its SASL user and the CA.

One place turns the settings (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM,
KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_SSL_CA_FILE) into what the clients take:

    AIOKafkaConsumer(topic, **kafka_client_options(settings), group_id=...)   # aiokafka
    KafkaBroker(..., security=faststream_security(settings))                # FastStream

Every client in libs/common (the producer, the subscribers' broker, dead letters through
the producer, topic administration, the lag monitor) and every tool, simulator and test
goes through here, so none can be left on PLAINTEXT by accident. FastStream needs the
SSL context inside its security object: a SASLScram512 without one is SASL_PLAINTEXT,
silently; `faststream_security` always puts it there for SASL_SSL.

A setting that is missing or contradicts another is a `KafkaSecurityError` with one line
that names it, raised when the process starts, not at its first record.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faststream.security import BaseSecurity, SASLScram256, SASLScram512
from yiwang.common.settings import CommonSettings

SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
PROTOCOLS = frozenset({"PLAINTEXT"}) | SASL_PROTOCOLS | TLS_PROTOCOLS
MECHANISMS = frozenset({"SCRAM-SHA-512", "SCRAM-SHA-256"})


class KafkaSecurityError(ValueError):
    """A Kafka security setting is missing or wrong; the message is one line naming it."""


@dataclass(frozen=True)
class KafkaSecurity:
    """A process's way onto the brokers. Checked when made: a SASL protocol needs a user
    and a password, TLS needs the CA file, and credentials without SASL are refused."""

    protocol: str = "PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str = ""
    _context: ssl.SSLContext | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        protocol = self.protocol
        if protocol not in PROTOCOLS:
            raise KafkaSecurityError(
                f"KAFKA_SECURITY_PROTOCOL={protocol!r} is not one of {', '.join(sorted(PROTOCOLS))}"
            )
        if self.sasl:
            if self.mechanism not in MECHANISMS:
                raise KafkaSecurityError(
                    f"KAFKA_SASL_MECHANISM={self.mechanism!r} is not one of "
                    f"{', '.join(sorted(MECHANISMS))}"
                )
            if not self.username:
                raise KafkaSecurityError(
                    f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME, the Kafka "
                    "user this process connects as"
                )
            if not self.password:
                raise KafkaSecurityError(
                    f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_PASSWORD, the password "
                    f"of Kafka user {self.username!r}"
                )
        elif self.username or self.password:
            raise KafkaSecurityError(
                f"KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is set, but KAFKA_SECURITY_PROTOCOL="
                f"{protocol} does not use them: set KAFKA_SECURITY_PROTOCOL=SASL_SSL"
            )
        if self.tls:
            object.__setattr__(self, "_context", self._load_ca())

    def _load_ca(self) -> ssl.SSLContext:
        if not self.ca_file:
            raise KafkaSecurityError(
                f"KAFKA_SECURITY_PROTOCOL={self.protocol} needs KAFKA_SSL_CA_FILE, the CA "
                "certificate (PEM) that signed the brokers' certificates"
            )
        if not Path(self.ca_file).is_file():
            raise KafkaSecurityError(f"KAFKA_SSL_CA_FILE={self.ca_file}: no such file")
        try:
            # Only this CA is trusted (no system roots), the broker's name is checked.
            return ssl.create_default_context(cafile=self.ca_file)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise KafkaSecurityError(
                f"KAFKA_SSL_CA_FILE={self.ca_file}: not a readable PEM certificate ({exc})"
            ) from None

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> KafkaSecurity:
        return cls(
            protocol=settings.kafka_security_protocol,
            mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value(),
            ca_file=settings.kafka_ssl_ca_file,
        )

    @property
    def sasl(self) -> bool:
        return self.protocol in SASL_PROTOCOLS

    @property
    def tls(self) -> bool:
        return self.protocol in TLS_PROTOCOLS

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The one context (this CA only, hostname checked) every client of the process shares."""
        return self._context

    def describe(self) -> str:
        """For logs and messages: the protocol and the user, never the password."""
        return f"{self.protocol} as {self.username}" if self.sasl else self.protocol

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client: producer, consumer, admin."""
        options: dict[str, Any] = {}
        if self.protocol != "PLAINTEXT":
            options["security_protocol"] = self.protocol
        if self.tls:
            options["ssl_context"] = self._context
        if self.sasl:
            options["sasl_mechanism"] = self.mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password
        return options

    def faststream(self) -> BaseSecurity | None:
        """FastStream's `security=`: SASL/SCRAM with the SSL context for SASL_SSL."""
        if self.sasl:
            scram = SASLScram512 if self.mechanism == "SCRAM-SHA-512" else SASLScram256
            return scram(
                username=self.username,
                password=self.password,
                ssl_context=self._context,
                use_ssl=self.tls,
            )
        if self.tls:
            return BaseSecurity(ssl_context=self._context, use_ssl=True)
        return None


def kafka_security(settings: CommonSettings | None = None) -> KafkaSecurity:
    """The process's Kafka security, from its settings (or the environment)."""
    return KafkaSecurity.from_settings(settings if settings is not None else CommonSettings())


def kafka_client_options(settings: CommonSettings | None = None) -> dict[str, Any]:
    """`bootstrap_servers` and the security keyword arguments for an aiokafka client, from
    the settings (or the environment): `AIOKafkaProducer(**kafka_client_options(settings))`."""
    settings = settings if settings is not None else CommonSettings()
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        **kafka_security(settings).client_options(),
    }


def faststream_security(settings: CommonSettings | None = None) -> BaseSecurity | None:
    """FastStream's `KafkaBroker(security=...)`, from the settings (or the environment)."""
    return kafka_security(settings).faststream()
