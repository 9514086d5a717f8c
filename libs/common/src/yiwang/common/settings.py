"""Settings from the environment (pydantic-settings), with local defaults that just work."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_DATABASE_URL = "postgresql://yiwang@127.0.0.1:55432/yiwang"
LOCAL_KAFKA = "localhost:9092"

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256"]


class CommonSettings(BaseSettings):
    """What every service reads. Services subclass it with their own fields."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(default=LOCAL_KAFKA, alias="KAFKA_BOOTSTRAP_SERVERS")
    # How every Kafka client of the process connects (yiwang.common.kafka_security): SASL
    # over TLS with the process's own user wherever the brokers are shared.
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        default="PLAINTEXT", alias="KAFKA_SECURITY_PROTOCOL"
    )
    kafka_sasl_mechanism: KafkaSaslMechanism = Field(
        default="SCRAM-SHA-512", alias="KAFKA_SASL_MECHANISM"
    )
    kafka_sasl_username: str = Field(default="", alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr = Field(default=SecretStr(""), alias="KAFKA_SASL_PASSWORD")
    # The CA certificate (PEM) that signed the brokers' certificates.
    kafka_ssl_ca_file: str = Field(default="", alias="KAFKA_SSL_CA_FILE")
    # A namespace for every topic and consumer group: several counties (or test runs) can
    # share one cluster. "lz." makes "lz.case.routed.v1".
    topic_prefix: str = Field(default="", alias="YIWANG_TOPIC_PREFIX", pattern=r"^([a-z0-9-]+\.)?$")
    kafka_replication_factor: int = Field(default=1, alias="KAFKA_REPLICATION_FACTOR", ge=1)
    database_url: str = Field(default=LOCAL_DATABASE_URL, alias="DATABASE_URL")
    db_pool_max_size: int = Field(default=10, alias="YIWANG_DB_POOL_MAX", ge=1)
    log_level: str = Field(default="INFO", alias="YIWANG_LOG_LEVEL")
    log_format: str = Field(default="json", alias="YIWANG_LOG_FORMAT", pattern="^(json|console)$")
    http_host: str = Field(default="127.0.0.1", alias="YIWANG_HTTP_HOST")
    http_port: int | None = Field(default=None, alias="YIWANG_HTTP_PORT", ge=1, le=65535)
    # Services create missing topics at start-up; on a managed cluster (Strimzi) turn it off.
    create_topics: bool = Field(default=True, alias="YIWANG_CREATE_TOPICS")
    # Demo time can run faster than real time so that deadlines fire within minutes.
    clock_speed: float = Field(default=1.0, alias="YIWANG_CLOCK_SPEED", gt=0)
    # The real moment demo time starts from; processes sharing it agree on the time.
    clock_epoch: datetime | None = Field(default=None, alias="YIWANG_CLOCK_EPOCH")
    outbox_poll_seconds: float = Field(default=1.0, alias="YIWANG_OUTBOX_POLL_SECONDS", gt=0)
    # Calendar files (holidays and make-up working days of a year, from the State Council's
    # notice), comma-separated files or directories of *.json; they override the tables of
    # the chinese-calendar package (see yiwang.common.working_days).
    calendar_files: str = Field(default="", alias="YIWANG_CALENDAR_FILES")
    # "development" lets a service start with the development keys and secrets it ships
    # with (make run and the tests set it); anywhere else they stop it (check_secret).
    env: str = Field(default="production", alias="YIWANG_ENV", pattern="^(production|development)$")
    # People sign in at the county's OpenID Connect provider: its issuer, the audience its
    # access tokens are minted for, and where in a token the roles are.
    oidc_issuer: str = Field(default="", alias="YIWANG_OIDC_ISSUER")
    oidc_audience: str = Field(default="yiwang", alias="YIWANG_OIDC_AUDIENCE", min_length=1)
    oidc_roles_claim: str = Field(default="roles", alias="YIWANG_OIDC_ROLES_CLAIM", min_length=1)
    oidc_jwks_url: str = Field(default="", alias="YIWANG_OIDC_JWKS_URL")
    # How long a grid worker has to settle a grid task (小事不出网格) before it passes up to
    # the township: "<amount> <hours|days|working_days>" (yiwang.common.sla.grid_deadline).
    # Every service reads the same variable, so grid-routing and oversight agree.
    grid_deadline: str = Field(
        default="1 working_days",
        alias="YIWANG_GRID_DEADLINE",
        pattern=r"^[1-9][0-9]{0,3} (hours|days|working_days)$",
    )
    # The largest request body any route takes.
    max_body_bytes: int = Field(default=64 * 1024, alias="YIWANG_MAX_BODY_BYTES", ge=1024)
    # Retention (yiwang.common.retention): days kept beyond what each row is needed for,
    # how often the pruning job runs, and the rows one statement deletes.
    retention_grace_days: int = Field(default=7, alias="YIWANG_RETENTION_GRACE_DAYS", ge=0)
    retention_every_seconds: float = Field(
        default=3600.0, alias="YIWANG_RETENTION_EVERY_SECONDS", gt=0
    )
    retention_batch: int = Field(default=1000, alias="YIWANG_RETENTION_BATCH", ge=1, le=100_000)

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def development(self) -> bool:
        return self.env == "development"

    def calendar_paths(self) -> list[Path]:
        return [Path(p.strip()) for p in self.calendar_files.split(",") if p.strip()]


class SecretRefused(ValueError):
    """A development or empty secret outside development."""


def check_secret(
    settings: CommonSettings, *, name: str, value: str, development_values: tuple[str, ...] = ()
) -> str:
    """A service's key or secret: refused when empty, or when it is one of the development
    values this repository ships with, unless YIWANG_ENV=development."""
    if not value.strip():
        raise SecretRefused(f"{name} is empty; set it to a secret of your own")
    if value in development_values and not settings.development:
        raise SecretRefused(
            f"{name} is the development default, published in this repository; set it to a "
            "secret of your own (or YIWANG_ENV=development on a developer machine)"
        )
    return value
