"""The commands of infra/stack.py (up, down, status, env, credentials, acls, ensure-jars)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .common import (
    COMPONENTS,
    ERR_PREFIX,
    KAFKA_LIBS,
    InfraError,
    Settings,
    fail,
    info,
    load_settings,
    rel,
    settings_line,
)
from .kafka import kafka_down, kafka_pid, kafka_status, kafka_up
from .kafka_auth import (
    ADMIN,
    TOOLS,
    client_settings,
    grant,
    list_acls,
    load_credentials,
    revoke,
    service_users,
)
from .kafka_jars import ensure_jars, find_java, jars_current, kafka_version
from .keycloak import keycloak_down, keycloak_status, keycloak_up
from .pg_setup import require_pg_bin_dir
from .postgres import postgres_down, postgres_status, postgres_up, postmaster_pid
from .processes import require_free_port, stack_lock


def selected(only: str | None) -> list[str]:
    return [only] if only else list(COMPONENTS)


def cmd_up(s: Settings, only: str | None) -> int:
    components = selected(only)
    # Cheap checks first, so a missing Java does not surface after Postgres has started.
    if "kafka" in components and not s.external_kafka and not kafka_pid():
        find_java()
        require_free_port(s.kafka_port, "KAFKA_PORT")
        require_free_port(s.kafka_controller_port, "KAFKA_CONTROLLER_PORT")
    if "postgres" in components and not s.external_database_url and not postmaster_pid():
        require_pg_bin_dir()
        require_free_port(s.pg_port, "PG_PORT")
    lines = []
    if "postgres" in components:
        lines.append(settings_line("DATABASE_URL", postgres_up(s)))
    if "kafka" in components:
        lines[:0] = kafka_lines(s, kafka_up(s))
    if "keycloak" in components:
        lines.append(settings_line("YIWANG_OIDC_ISSUER", keycloak_up(s)))
    print("\n".join(lines), flush=True)
    return 0


def cmd_down(s: Settings, only: str | None) -> int:
    components = selected(only)
    if "kafka" in components:
        kafka_down(s)
    if "postgres" in components:
        postgres_down()
    if "keycloak" in components:
        keycloak_down()
    return 0


def cmd_status(s: Settings) -> int:
    results = [kafka_status(s), postgres_status(s), keycloak_status(s)]
    for _, line in results:
        print(line)
    return 0 if all(ok for ok, _ in results) else 1


def kafka_lines(s: Settings, bootstrap: str) -> list[str]:
    """KAFKA_BOOTSTRAP_SERVERS, and for the local broker the settings of its SASL_SSL
    listener as yiwang-tools (tools, the demo, the tests' own clients)."""
    lines = [settings_line("KAFKA_BOOTSTRAP_SERVERS", bootstrap)]
    if not s.external_kafka:
        lines += [settings_line(k, v) for k, v in client_settings(TOOLS).items()]
    return lines


def cmd_env(s: Settings) -> int:
    print("\n".join(kafka_lines(s, s.bootstrap)))
    print(settings_line("DATABASE_URL", s.database_url))
    print(settings_line("YIWANG_OIDC_ISSUER", s.oidc_issuer))
    return 0


def require_local_kafka(s: Settings, what: str) -> None:
    if s.external_kafka:
        fail(
            f"{what} are the local broker's; KAFKA_BOOTSTRAP_SERVERS={s.external_kafka} is "
            "another one (its users and ACLs are its operator's)"
        )


def cmd_credentials(s: Settings, user: str | None) -> int:
    """`credentials <service|tools|admin>`: that user's KAFKA_SASL_USERNAME and
    KAFKA_SASL_PASSWORD (with the protocol, mechanism and CA); `credentials` alone: every
    service's password as KAFKA_SASL_PASSWORD_<SERVICE>, for launchers."""
    require_local_kafka(s, "Kafka users")
    passwords = load_credentials()
    users = {**service_users(), "tools": TOOLS, "admin": ADMIN}
    if user is None:
        for service, name in service_users().items():
            key = "KAFKA_SASL_PASSWORD_" + service.upper().replace("-", "_")
            print(settings_line(key, passwords[name]))
        return 0
    name = users.get(user, user)
    if name not in passwords:
        fail(f"no local Kafka user {user!r}: one of {', '.join(users)}")
    for key, value in client_settings(name, passwords).items():
        print(settings_line(key, value))
    return 0


def cmd_acls(s: Settings, action: str, prefixes: list[str], principal: str | None) -> int:
    """Grant or revoke the service users' ACLs for topic prefixes (a test run's `t1a2b3c4d.`),
    or list the ACLs the broker has."""
    require_local_kafka(s, "ACLs")
    if action == "list":
        for acl in list_acls(s, principal):
            print(
                f"{acl.principal:28} {acl.operation:16} {acl.resource_type:6} {acl.pattern_type:8} {acl.name}"
            )
        return 0
    if not prefixes:
        fail(f"acls {action} needs --prefix (e.g. --prefix lz.)")
    count = grant(s, prefixes) if action == "grant" else revoke(s, prefixes)
    verb = "granted" if action == "grant" else "revoked"
    info(f"kafka: {verb} {count} ACLs for {', '.join(repr(p) for p in prefixes)}")
    return 0


def cmd_ensure_jars() -> int:
    if jars_current():
        info(f"kafka: jars for Kafka {kafka_version()} are current in {rel(KAFKA_LIBS)}")
        return 0
    if kafka_pid():
        fail("the local Kafka is running on the old jars: run `infra/stack.py down` first")
    ensure_jars()
    return 0


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="infra/stack.py", description="Local Kafka, PostgreSQL and Keycloak for Yiwang."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start what is needed and print the settings")
    up.add_argument("--only", choices=COMPONENTS)
    up.add_argument("--timeout", type=float, help="readiness timeout in seconds for each component")
    down = sub.add_parser("down", help="stop the local Kafka and Postgres")
    down.add_argument("--only", choices=COMPONENTS)
    sub.add_parser("status", help="one line per component; exit 0 only if all answer")
    sub.add_parser("env", help="print the settings lines only (Kafka as yiwang-tools)")
    creds = sub.add_parser(
        "credentials", help="a local Kafka user's settings, or every service's password"
    )
    creds.add_argument("user", nargs="?", help="a service, tools or admin")
    acls = sub.add_parser("acls", help="grant, revoke or list the service users' ACLs")
    acls.add_argument("action", choices=["grant", "revoke", "list"])
    acls.add_argument("--prefix", action="append", default=[], help="a topic prefix, e.g. lz.")
    acls.add_argument("--principal", help="list: only this principal (User:yiwang-intake)")
    sub.add_parser("ensure-jars", help="resolve the Kafka jars with Maven if missing or outdated")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        s = load_settings(getattr(args, "timeout", None))
        if args.command == "env":
            return cmd_env(s)
        if args.command == "credentials":
            return cmd_credentials(s, args.user)
        if args.command == "acls":
            return cmd_acls(s, args.action, args.prefix, args.principal)
        if args.command == "status":
            return cmd_status(s)
        with stack_lock():
            if args.command == "up":
                return cmd_up(s, args.only)
            if args.command == "down":
                return cmd_down(s, args.only)
            return cmd_ensure_jars()
    except InfraError as exc:
        print(f"{ERR_PREFIX}{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{ERR_PREFIX}interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(
            f"{ERR_PREFIX}unexpected {type(exc).__name__}: {exc} (please report)", file=sys.stderr
        )
        return 1
