"""Paths, constants, the one-line error type and the settings read from the environment."""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

# --------------------------------------------------------------------------- paths

# This file is <repo>/infra/devstack/common.py, next to the <repo>/infra/stack.py entry point.
REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"
# Resolved: a git worktree may share another checkout's stack through a symlinked .local,
# and a running server is recognised by the real path in its command line.
LOCAL_DIR = (REPO_ROOT / ".local").resolve()
LOCK_FILE = LOCAL_DIR / "stack.lock"

KAFKA_POM = INFRA_DIR / "kafka" / "pom.xml"
KAFKA_LOG4J = INFRA_DIR / "kafka" / "log4j2.xml"
KAFKA_HOME = LOCAL_DIR / "kafka"
KAFKA_LIBS = KAFKA_HOME / "libs"
KAFKA_LIBS_PARTIAL = KAFKA_HOME / "libs.partial"
KAFKA_STAMP = KAFKA_HOME / "libs.stamp"
KAFKA_DATA = KAFKA_HOME / "data"
KAFKA_LOGS = KAFKA_HOME / "logs"
KAFKA_SERVER_LOG = KAFKA_LOGS / "server.log"
KAFKA_CONSOLE_LOG = KAFKA_LOGS / "kafka.out"
KAFKA_PROPS = KAFKA_HOME / "server.properties"
KAFKA_PID_FILE = KAFKA_HOME / "kafka.pid"
KAFKA_CLUSTER_ID_FILE = KAFKA_HOME / "cluster-id"
# SASL_SSL: the TLS material (made once), the users' passwords (made once, never committed:
# .local/ is ignored), which users the broker has, and the Java tools' client settings.
KAFKA_TLS = KAFKA_HOME / "tls"
KAFKA_CA_CERT = KAFKA_TLS / "ca.crt"
KAFKA_CREDENTIALS = KAFKA_HOME / "credentials.json"
KAFKA_SCRAM_USERS = KAFKA_HOME / "scram-users"
KAFKA_ADMIN_PROPS = KAFKA_HOME / "admin.properties"
KAFKA_CLIENT_PROPS = KAFKA_HOME / "client.properties"
# Written into the data directory once it is formatted for SASL_SSL; data without it was
# formatted for the PLAINTEXT listener of earlier versions and is formatted again.
KAFKA_SECURITY_STAMP = KAFKA_DATA / "yiwang-security"

PG_DATA = LOCAL_DIR / "pgdata"
PG_RUN = LOCAL_DIR / "pgrun"  # unix socket + server log; must be writable by the postgres user
PG_LOG = PG_RUN / "postgres.log"
PG_CONF_NAME = "yiwang.conf"  # included from postgresql.conf, rewritten on every `up`

# ------------------------------------------------------------------------ constants

PG_SUPERUSER = "yiwang"
PG_DATABASE = "yiwang"
PG_OS_USER = "yiwang-pg"  # postgres refuses to run as root
ERR_PREFIX = "yiwang-infra: "
# Test runs create a topic set per module (about a hundred partitions each): 512 MB ran out.
DEFAULT_KAFKA_HEAP = "-Xmx1g -Xms256m"
KAFKA_JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
]
MIN_JAVA_MAJOR = 17
COMPONENTS = ("kafka", "postgres", "keycloak")


class InfraError(Exception):
    """A fault the user can fix; reported as one line, never as a traceback."""


def fail(message: str) -> NoReturn:
    raise InfraError(message)


def info(message: str) -> None:
    """Progress goes to stderr so stdout stays machine-readable (settings lines only)."""
    print(f"{ERR_PREFIX}{message}", file=sys.stderr, flush=True)


def rel(path: Path) -> str:
    """Repo-relative path for messages, absolute if outside the repo."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(REPO_ROOT))
    return str(path)


# ------------------------------------------------------------------------- settings


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        fail(f"{name} must be an integer, got {raw!r}")


def env_port(name: str, default: int) -> int:
    port = env_int(name, default)
    if not 1 <= port <= 65535:
        fail(f"{name} must be a TCP port (1-65535), got {port}")
    return port


@dataclass(frozen=True)
class Settings:
    kafka_port: int
    kafka_controller_port: int
    kafka_heap: str
    kafka_start_timeout: float
    kafka_stop_timeout: float
    pg_port: int
    pg_start_timeout: float
    env_kafka: str | None  # KAFKA_BOOTSTRAP_SERVERS as found in the environment
    env_database_url: str | None  # DATABASE_URL as found in the environment
    keycloak_port: int = 8180
    keycloak_management_port: int = 9000
    keycloak_start_timeout: float = 300
    env_oidc_issuer: str | None = None  # YIWANG_OIDC_ISSUER as found in the environment

    @property
    def local_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def local_database_url(self) -> str:
        return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{self.pg_port}/{PG_DATABASE}"

    @property
    def external_kafka(self) -> str | None:
        # A value equal to our own address (e.g. exported by a previous `up`) is still ours.
        if self.env_kafka and self.env_kafka != self.local_bootstrap:
            return self.env_kafka
        return None

    @property
    def external_database_url(self) -> str | None:
        if self.env_database_url and self.env_database_url != self.local_database_url:
            return self.env_database_url
        return None

    @property
    def local_oidc_issuer(self) -> str:
        return f"http://127.0.0.1:{self.keycloak_port}/realms/yiwang"

    @property
    def external_oidc_issuer(self) -> str | None:
        if self.env_oidc_issuer and self.env_oidc_issuer != self.local_oidc_issuer:
            return self.env_oidc_issuer
        return None

    @property
    def oidc_issuer(self) -> str:
        return self.external_oidc_issuer or self.local_oidc_issuer

    @property
    def bootstrap(self) -> str:
        return self.external_kafka or self.local_bootstrap

    @property
    def database_url(self) -> str:
        return self.external_database_url or self.local_database_url


def load_settings(timeout_override: float | None = None) -> Settings:
    kafka_port = env_port("KAFKA_PORT", 9092)
    controller_port = env_port("KAFKA_CONTROLLER_PORT", 9093)
    if kafka_port == controller_port:
        fail(f"KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ (both are {kafka_port})")
    return Settings(
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
        kafka_heap=os.environ.get("KAFKA_HEAP_OPTS", "").strip() or DEFAULT_KAFKA_HEAP,
        kafka_start_timeout=timeout_override or env_int("KAFKA_START_TIMEOUT", 90),
        kafka_stop_timeout=env_int("KAFKA_STOP_TIMEOUT", 30),
        pg_port=env_port("PG_PORT", 55432),
        pg_start_timeout=timeout_override or env_int("PG_START_TIMEOUT", 60),
        env_kafka=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip() or None,
        env_database_url=os.environ.get("DATABASE_URL", "").strip() or None,
        keycloak_port=env_port("KEYCLOAK_PORT", 8180),
        keycloak_management_port=env_port("KEYCLOAK_MANAGEMENT_PORT", 9000),
        # The first start downloads (176 MB) and builds Keycloak: minutes on 2 cores.
        keycloak_start_timeout=timeout_override or env_int("KEYCLOAK_START_TIMEOUT", 300),
        env_oidc_issuer=os.environ.get("YIWANG_OIDC_ISSUER", "").strip() or None,
    )


def settings_line(name: str, value: str) -> str:
    return f"{name}={shlex.quote(value)}"
