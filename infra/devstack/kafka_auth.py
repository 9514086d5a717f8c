"""The local broker's SASL_SSL: its TLS certificates, its users and their passwords, and
the ACLs it grants them.

    TLS     a CA and a broker certificate (SAN localhost, 127.0.0.1), made once with openssl
            into .local/kafka/tls/; the broker reads a PEM keystore, clients trust ca.crt.
    users   `admin` (the super user: the broker itself, granting ACLs, Java tools), one user
            per service (`yiwang-intake`, ...) and `yiwang-tools` (the tests' harness, the
            demo, simulators, operators' tools). Passwords are made once and kept in
            .local/kafka/credentials.json (mode 0600); SCRAM credentials are written when
            the storage is formatted, and a user added later is created with ConfigCommand.
    ACLs    each service user's from yiwang.common.kafka_acls (with Create: services make
            their topics at start-up), for the unprefixed topics at every `up` and for a
            test run's topic prefix on request (`infra/stack.py acls grant --prefix t1a2b3c4d.`);
            `yiwang-tools` may read, write, create and delete any topic and group (local only).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .common import (
    KAFKA_ADMIN_PROPS,
    KAFKA_CA_CERT,
    KAFKA_CLIENT_PROPS,
    KAFKA_CREDENTIALS,
    KAFKA_HOME,
    KAFKA_SCRAM_USERS,
    KAFKA_TLS,
    Settings,
    fail,
    info,
    rel,
)
from .kafka_wire import AclEntry, Credentials, KafkaWireError, connect

ADMIN = "admin"
TOOLS = "yiwang-tools"
MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192
KEYSTORE = KAFKA_TLS / "broker-keystore.pem"
TLS_DAYS = 3650


def service_users() -> dict[str, str]:
    """service name -> its Kafka user, from libs/common (the workspace's packages)."""
    try:
        from yiwang.common.kafka_acls import SERVICES, service_user
    except ImportError:
        fail(
            "infra/stack.py needs the workspace's Python packages for the Kafka users: run it "
            "as `uv run python infra/stack.py` (make infra does)"
        )
    return {service: service_user(service) for service in SERVICES}


def wanted_users() -> list[str]:
    return [ADMIN, TOOLS, *service_users().values()]


# ------------------------------------------------------------------------ TLS


def ensure_tls() -> None:
    """Make the CA and the broker's certificate once (kept across restarts and formats)."""
    if KAFKA_CA_CERT.is_file() and KEYSTORE.is_file():
        return
    openssl = shutil.which("openssl")
    if not openssl:
        fail(
            "openssl not found: install it (apt-get install openssl); the local Kafka's TLS "
            "certificates are made with it"
        )
    KAFKA_TLS.mkdir(parents=True, exist_ok=True)
    info(f"kafka: making a local CA and the broker's TLS certificate in {rel(KAFKA_TLS)}/")
    ca_key, broker_key = KAFKA_TLS / "ca.key", KAFKA_TLS / "broker.key"
    csr, broker_crt = KAFKA_TLS / "broker.csr", KAFKA_TLS / "broker.crt"
    extensions = KAFKA_TLS / "broker.ext"
    extensions.write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "extendedKeyUsage=serverAuth\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    days = str(TLS_DAYS)
    steps = [
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
         "-out", str(KAFKA_CA_CERT), "-days", days, "-subj", "/CN=Yiwang local development CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(broker_key),
         "-out", str(csr), "-subj", "/CN=localhost"],
        [openssl, "x509", "-req", "-in", str(csr), "-CA", str(KAFKA_CA_CERT), "-CAkey",
         str(ca_key), "-CAcreateserial", "-out", str(broker_crt), "-days", days,
         "-extfile", str(extensions)],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
            fail(f"making the local Kafka's TLS certificates failed: {last}")
    # Kafka's PEM keystore: the (unencrypted PKCS#8) key, then the certificate chain.
    _write_private(
        KEYSTORE, broker_key.read_text() + broker_crt.read_text() + KAFKA_CA_CERT.read_text()
    )
    for secret in (ca_key, broker_key):
        secret.chmod(0o600)


# ------------------------------------------------------------------ passwords


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_credentials() -> dict[str, str]:
    """user -> password for every wanted user; passwords are made once, then kept."""
    stored: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(KAFKA_CREDENTIALS.read_text())
        if isinstance(loaded, dict):
            stored = {str(k): str(v) for k, v in loaded.items()}
    missing = [u for u in wanted_users() if u not in stored]
    if missing:
        stored.update({u: secrets.token_urlsafe(24) for u in missing})
        _write_private(KAFKA_CREDENTIALS, json.dumps(stored, indent=2, sort_keys=True) + "\n")
    return stored


def credentials(user: str, passwords: dict[str, str] | None = None) -> Credentials:
    passwords = passwords if passwords is not None else load_credentials()
    return Credentials(user, passwords[user], str(KAFKA_CA_CERT))


def client_settings(user: str, passwords: dict[str, str] | None = None) -> dict[str, str]:
    """The settings a Python client of the local broker needs, for `user`."""
    passwords = passwords if passwords is not None else load_credentials()
    return {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": MECHANISM,
        "KAFKA_SASL_USERNAME": user,
        "KAFKA_SASL_PASSWORD": passwords[user],
        "KAFKA_SSL_CA_FILE": str(KAFKA_CA_CERT),
    }


def jaas(login_module: str, user: str, password: str, **extra: str) -> str:
    options = " ".join(
        f'{k}="{v}"' for k, v in {"username": user, "password": password, **extra}.items()
    )
    return f"org.apache.kafka.common.security.{login_module} required {options};"


def write_java_client_configs(passwords: dict[str, str]) -> None:
    """admin.properties (the super user) and client.properties (yiwang-tools) for Kafka's
    Java tools: `--command-config .local/kafka/admin.properties`,
    `--consumer.config .local/kafka/client.properties`."""
    for path, user in ((KAFKA_ADMIN_PROPS, ADMIN), (KAFKA_CLIENT_PROPS, TOOLS)):
        _write_private(
            path,
            "# Generated by infra/stack.py: Kafka's Java tools as "
            f"{user} on the local SASL_SSL listener.\n"
            "security.protocol=SASL_SSL\n"
            f"sasl.mechanism={MECHANISM}\n"
            f"sasl.jaas.config={jaas('scram.ScramLoginModule', user, passwords[user])}\n"
            "ssl.truststore.type=PEM\n"
            f"ssl.truststore.location={KAFKA_CA_CERT}\n",
        )


# ------------------------------------------------------------------ SCRAM users


def scram_format_args(passwords: dict[str, str]) -> list[str]:
    """StorageTool format arguments that create every user's SCRAM credentials."""
    args = []
    for user in wanted_users():
        args += ["--add-scram", f"{MECHANISM}=[name={user},password={passwords[user]}]"]
    return args


def record_scram_users(users: Sequence[str]) -> None:
    KAFKA_SCRAM_USERS.write_text("".join(f"{u}\n" for u in sorted(set(users))))


def scram_users() -> set[str]:
    with contextlib.suppress(OSError):
        return set(KAFKA_SCRAM_USERS.read_text().split())
    return set()


def add_missing_scram_users(
    java_command: list[str], s: Settings, passwords: dict[str, str]
) -> None:
    """Users that joined since the storage was formatted get their SCRAM credentials from
    ConfigCommand (as admin): one Java run per user, only when the user set grows."""
    have = scram_users()
    for user in [u for u in wanted_users() if u not in have]:
        info(f"kafka: adding SCRAM user {user}")
        done = subprocess.run(
            [*java_command, "kafka.admin.ConfigCommand", "--bootstrap-server",
             s.local_bootstrap, "--command-config", str(KAFKA_ADMIN_PROPS), "--alter",
             "--add-config", f"{MECHANISM}=[iterations={SCRAM_ITERATIONS},password={passwords[user]}]",
             "--entity-type", "users", "--entity-name", user],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, cwd=KAFKA_HOME,
        )  # fmt: skip
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
            fail(f"creating Kafka user {user} failed: {last[:250]}")
        have.add(user)
        record_scram_users(sorted(have))


# ------------------------------------------------------------------ ACLs


def tools_acls() -> list[AclEntry]:
    """yiwang-tools: any topic and group (tests read and write every topic of their prefix,
    create and delete test topics; the demo and the simulators act as platforms,
    departments and residents). Local only: no such user exists under Strimzi."""
    principal = f"User:{TOOLS}"
    topic_ops = ("read", "write", "create", "delete", "describe", "describe_configs")
    return [
        *(AclEntry(principal, "topic", "*", "literal", op) for op in topic_ops),
        *(
            AclEntry(principal, "group", "*", "literal", op)
            for op in ("read", "describe", "delete")
        ),
    ]


def service_acls(prefix: str) -> list[AclEntry]:
    """Every service user's ACLs under `prefix`, with Create (services make their topics)."""
    service_users()  # the workspace's packages are there, or one line that says so
    from yiwang.common.kafka_acls import all_service_acls

    return [
        AclEntry(
            a.principal, str(a.resource_type), a.name, str(a.pattern_type), str(a.operation).lower()
        )
        for a in all_service_acls(prefix=prefix, create=True)
    ]


def _admin_call(s: Settings, action: str, entries: list[AclEntry]) -> int:
    passwords = load_credentials()
    try:
        with connect("127.0.0.1", s.kafka_port, credentials(ADMIN, passwords), timeout=10) as kafka:
            if action == "grant":
                errors = kafka.create_acls(entries)
                if errors:
                    fail(f"the broker refused {len(errors)} ACLs, e.g. {errors[0]}")
                return len(entries)
            return kafka.delete_acls(entries)
    except (OSError, KafkaWireError) as exc:
        fail(f"cannot {action} ACLs on the local Kafka at {s.local_bootstrap}: {exc}")


def grant(s: Settings, prefixes: Sequence[str], *, tools: bool = False) -> int:
    entries = [e for p in prefixes for e in service_acls(p)] + (tools_acls() if tools else [])
    return _admin_call(s, "grant", entries)


def revoke(s: Settings, prefixes: Sequence[str]) -> int:
    entries = [e for p in prefixes for e in service_acls(p)]
    return _admin_call(s, "revoke", entries)


def list_acls(s: Settings, principal: str | None = None) -> list[AclEntry]:
    try:
        with connect("127.0.0.1", s.kafka_port, credentials(ADMIN), timeout=10) as kafka:
            return sorted(kafka.describe_acls(principal))
    except (OSError, KafkaWireError) as exc:
        fail(f"cannot list ACLs on the local Kafka at {s.local_bootstrap}: {exc}")
