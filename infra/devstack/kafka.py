"""The local single-node Kafka (KRaft, combined broker+controller): start, stop, status.

Clients reach it only over SASL_SSL (SCRAM-SHA-512 over TLS) on KAFKA_PORT; the controller
listener (KAFKA_CONTROLLER_PORT, loopback) takes SASL/PLAIN from the broker's own admin,
as SCRAM cannot authenticate a KRaft controller. StandardAuthorizer, `admin` the only
super user, and nothing is allowed that no ACL allows (kafka_auth has the users and ACLs).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from .common import (
    KAFKA_CA_CERT,
    KAFKA_CLUSTER_ID_FILE,
    KAFKA_CONSOLE_LOG,
    KAFKA_DATA,
    KAFKA_HOME,
    KAFKA_JVM_FLAGS,
    KAFKA_LIBS,
    KAFKA_LOG4J,
    KAFKA_LOGS,
    KAFKA_PID_FILE,
    KAFKA_PROPS,
    KAFKA_SECURITY_STAMP,
    KAFKA_SERVER_LOG,
    Settings,
    fail,
    info,
    rel,
)
from .kafka_auth import (
    ADMIN,
    KEYSTORE,
    MECHANISM,
    add_missing_scram_users,
    credentials,
    ensure_tls,
    grant,
    jaas,
    load_credentials,
    record_scram_users,
    scram_format_args,
    scram_users,
    wanted_users,
    write_java_client_configs,
)
from .kafka_jars import ensure_jars, find_java, jars_current, kafka_version
from .kafka_probe import kafka_answers, kafka_probe
from .processes import (
    cmdline,
    file_size,
    last_error_line,
    last_lines,
    pid_alive,
    read_pid,
    require_free_port,
    terminate,
)

# Bump when the listeners or the way storage is formatted change: data formatted by an
# earlier version (without it) is formatted again, a broker running an older
# configuration is restarted.
SECURITY_STAMP = "SASL_SSL SCRAM-SHA-512 StandardAuthorizer v1\n"


def kafka_pid() -> int | None:
    """Pid of the broker this script started, if it is alive (pid file, then /proc scan)."""
    marker = str(KAFKA_PROPS)
    pid = read_pid(KAFKA_PID_FILE)
    if pid and pid_alive(pid) and marker in cmdline(pid):
        return pid
    # Pid file lost or stale: look for a java process started with our server.properties.
    with contextlib.suppress(OSError):
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            line = cmdline(int(proc.name))
            if "kafka.Kafka" in line and marker in line and pid_alive(int(proc.name)):
                return int(proc.name)
    return None


def server_properties(s: Settings, passwords: dict[str, str]) -> str:
    admin_password = passwords[ADMIN]
    # Static voter quorum (controller.quorum.voters) rather than `format --standalone`:
    # a static quorum stores no controller endpoint in the metadata log, so changing
    # KAFKA_CONTROLLER_PORT later keeps working with the already-formatted data.
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{s.kafka_controller_port}",
        "listeners": f"CLIENT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
        "advertised.listeners": f"CLIENT://127.0.0.1:{s.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "CLIENT",
        "listener.security.protocol.map": "CLIENT:SASL_SSL,CONTROLLER:SASL_PLAINTEXT",
        # CLIENT: SCRAM-SHA-512 over TLS, for every client and between brokers (as admin).
        "listener.name.client.sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        "listener.name.client.scram-sha-512.sasl.jaas.config": jaas(
            "scram.ScramLoginModule", ADMIN, admin_password
        ),
        # CONTROLLER: a static PLAIN admin on loopback (SCRAM credentials live in the
        # metadata the controller itself serves, so they cannot log in to it).
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": jaas(
            "plain.PlainLoginModule", ADMIN, admin_password, user_admin=admin_password
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(KEYSTORE),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(KAFKA_CA_CERT),
        "ssl.client.auth": "none",
        "ssl.endpoint.identification.algorithm": "https",
        # Nothing is allowed that no ACL allows; only admin is a super user.
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{ADMIN}",
        "allow.everyone.if.no.acl.found": "false",
        "log.dirs": str(KAFKA_DATA),
        # Topics are created explicitly by the code under test, never by accident.
        "auto.create.topics.enable": "false",
        "num.partitions": "3",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Tests want consumer groups to form immediately.
        "group.initial.rebalance.delay.ms": "0",
        # Sized for a 2-core dev box.
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        "log.cleaner.threads": "1",
        "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
        "log.retention.hours": "72",
        "log.segment.bytes": str(128 * 1024 * 1024),
    }
    text = "# Generated by infra/stack.py on every `up`; edit the script, not this file.\n"
    text += f"# {SECURITY_STAMP}"
    text += "".join(f"{key}={value}\n" for key, value in props.items())
    return text


def write_server_properties(text: str) -> None:
    # It holds the admin's password: readable by its owner only.
    KAFKA_PROPS.touch(mode=0o600, exist_ok=True)
    KAFKA_PROPS.chmod(0o600)
    KAFKA_PROPS.write_text(text)


def running_config_is_current(text: str) -> bool:
    """Was the running broker started with the configuration `up` would write now?"""
    with contextlib.suppress(OSError):
        return KAFKA_PROPS.read_text() == text
    return False


def kafka_cluster_id() -> str:
    """Generated once and kept, so the formatted storage stays valid across restarts."""
    with contextlib.suppress(OSError):
        return KAFKA_CLUSTER_ID_FILE.read_text().strip()
    with contextlib.suppress(OSError):  # data formatted earlier but the id file was lost
        for line in (KAFKA_DATA / "meta.properties").read_text().splitlines():
            if line.startswith("cluster.id="):
                cluster_id = line.split("=", 1)[1].strip()
                KAFKA_CLUSTER_ID_FILE.write_text(cluster_id + "\n")
                return cluster_id
    # Kafka's Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            break
    KAFKA_CLUSTER_ID_FILE.write_text(cluster_id + "\n")
    return cluster_id


def kafka_java_command(java: str, s: Settings, main_class: str, *args: str) -> list[str]:
    return [
        java,
        *shlex.split(s.kafka_heap),
        *KAFKA_JVM_FLAGS,
        f"-Dlog4j2.configurationFile={KAFKA_LOG4J}",
        f"-Dkafka.logs.dir={KAFKA_LOGS}",
        *shlex.split(os.environ.get("KAFKA_OPTS", "")),
        "-cp",
        f"{KAFKA_LIBS}/*",
        main_class,
        *args,
    ]


def format_kafka_storage_once(java: str, s: Settings, passwords: dict[str, str]) -> None:
    if (KAFKA_DATA / "meta.properties").is_file():
        with contextlib.suppress(OSError):
            if KAFKA_SECURITY_STAMP.read_text() == SECURITY_STAMP:
                return
        # Formatted for the PLAINTEXT listener of an earlier version: no SCRAM users, no
        # ACLs. It is local development data; start it again.
        info(
            f"kafka: {rel(KAFKA_DATA)} was formatted for an earlier, PLAINTEXT configuration; "
            "formatting it again for SASL_SSL (its topics and records are dropped)"
        )
        shutil.rmtree(KAFKA_DATA)
        KAFKA_DATA.mkdir(parents=True)
    cluster_id = kafka_cluster_id()
    info(f"kafka: formatting KRaft storage in {rel(KAFKA_DATA)} (cluster id {cluster_id})")
    cmd = kafka_java_command(
        java, s, "kafka.tools.StorageTool", "format", "--config", str(KAFKA_PROPS),
        "--cluster-id", cluster_id, "--ignore-formatted", *scram_format_args(passwords),
    )  # fmt: skip
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        # Only the last line: the tool prints the SCRAM salts on its way.
        lines = (proc.stderr + proc.stdout).strip().splitlines() or [f"exit code {proc.returncode}"]
        fail(
            f"formatting Kafka storage failed: {lines[-1][:250]} (delete {rel(KAFKA_DATA)} to start fresh)"
        )
    KAFKA_SECURITY_STAMP.write_text(SECURITY_STAMP)
    record_scram_users(wanted_users())


def spawn_kafka(java: str, s: Settings) -> subprocess.Popen[bytes]:
    cmd = kafka_java_command(java, s, "kafka.Kafka", str(KAFKA_PROPS))
    with KAFKA_CONSOLE_LOG.open("ab") as console:
        # New session: the broker must outlive this script and ignore its terminal's Ctrl-C.
        proc = subprocess.Popen(
            cmd, cwd=KAFKA_HOME, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    KAFKA_PID_FILE.write_text(f"{proc.pid}\n")
    return proc


def local_probe(s: Settings) -> str | None:
    """The local broker's answer, over SASL_SSL as admin: None if it serves requests."""
    return kafka_probe("127.0.0.1", s.kafka_port, credentials(ADMIN))


def wait_kafka_ready(
    pid: int, s: Settings, log_offsets: tuple[int, int], proc: subprocess.Popen[bytes] | None
) -> None:
    deadline = time.monotonic() + s.kafka_start_timeout
    while True:
        exited = proc.poll() is not None if proc else not pid_alive(pid)
        if exited:
            KAFKA_PID_FILE.unlink(missing_ok=True)
            fail(f"Kafka exited during startup; {kafka_log_hint(log_offsets)}")
        if local_probe(s) is None:
            return
        if time.monotonic() > deadline:
            hint = kafka_log_hint(log_offsets)  # before stopping: shutdown adds its own errors
            terminate(pid, s.kafka_stop_timeout, "kafka")
            KAFKA_PID_FILE.unlink(missing_ok=True)
            fail(
                f"Kafka did not become ready within {s.kafka_start_timeout:.0f}s (stopped it; raise "
                f"KAFKA_START_TIMEOUT if the machine is just slow); {hint}"
            )
        time.sleep(0.5)


def kafka_log_hint(log_offsets: tuple[int, int]) -> str:
    # kafka.out only receives JVM-level output (bad flags, OOM, crashes), so anything new
    # there is the story; otherwise the last ERROR the broker logged during this start.
    line = last_lines(KAFKA_CONSOLE_LOG, log_offsets[1]) or last_error_line(
        KAFKA_SERVER_LOG, log_offsets[0]
    )
    where = f"see {rel(KAFKA_SERVER_LOG)} and {rel(KAFKA_CONSOLE_LOG)}"
    return f"{where}; last error: {line}" if line else where


def kafka_up(s: Settings) -> str:
    if s.external_kafka:
        problem = kafka_answers(s.external_kafka)
        if problem:
            fail(
                f"Kafka at KAFKA_BOOTSTRAP_SERVERS={s.external_kafka} does not answer ({problem}): "
                "start it, or unset KAFKA_BOOTSTRAP_SERVERS to run the local broker"
            )
        info(f"kafka: using external broker {s.external_kafka} (answers)")
        return s.external_kafka

    passwords = load_credentials()
    config = server_properties(s, passwords)
    pid = kafka_pid()
    if pid and not running_config_is_current(config):
        info(
            f"kafka: pid {pid} runs an earlier configuration (e.g. the PLAINTEXT listener); "
            "restarting it with SASL_SSL"
        )
        terminate(pid, s.kafka_stop_timeout, "kafka")
        KAFKA_PID_FILE.unlink(missing_ok=True)
        pid = None
    if pid:
        if local_probe(s) is None:
            info(f"kafka: already running (pid {pid}) at {s.local_bootstrap}, reusing it")
        else:
            info(
                f"kafka: pid {pid} is running but not answering on {s.local_bootstrap} yet, waiting..."
            )
            wait_kafka_ready(
                pid, s, (file_size(KAFKA_SERVER_LOG), file_size(KAFKA_CONSOLE_LOG)), None
            )
        if not jars_current():
            info(
                "kafka: note: infra/kafka/pom.xml changed; run `down` then `up` to switch versions"
            )
        ensure_users_and_acls(s, passwords)
        return s.local_bootstrap

    java = find_java()
    require_free_port(s.kafka_port, "KAFKA_PORT")
    require_free_port(s.kafka_controller_port, "KAFKA_CONTROLLER_PORT")
    ensure_jars()
    for directory in (KAFKA_DATA, KAFKA_LOGS):
        directory.mkdir(parents=True, exist_ok=True)
    ensure_tls()
    write_java_client_configs(passwords)
    write_server_properties(config)
    format_kafka_storage_once(java, s, passwords)

    started = time.monotonic()
    offsets = (file_size(KAFKA_SERVER_LOG), file_size(KAFKA_CONSOLE_LOG))
    proc = spawn_kafka(java, s)
    info(f"kafka: starting Kafka {kafka_version()} (pid {proc.pid}), logs in {rel(KAFKA_LOGS)}/")
    wait_kafka_ready(proc.pid, s, offsets, proc)
    info(f"kafka: ready at {s.local_bootstrap} (SASL_SSL) after {time.monotonic() - started:.1f}s")
    ensure_users_and_acls(s, passwords)
    return s.local_bootstrap


def ensure_users_and_acls(s: Settings, passwords: dict[str, str]) -> None:
    """Users added since the storage was formatted, and the unprefixed ACLs of every
    service user and of yiwang-tools (granting an existing ACL changes nothing)."""
    write_java_client_configs(passwords)
    if set(wanted_users()) - scram_users():
        java_command = [find_java(), "-Xmx256m", f"-Dlog4j2.configurationFile={KAFKA_LOG4J}",
                        f"-Dkafka.logs.dir={KAFKA_LOGS / 'tools'}", "-cp", f"{KAFKA_LIBS}/*"]  # fmt: skip
        add_missing_scram_users(java_command, s, passwords)
    grant(s, [""], tools=True)


def kafka_down(s: Settings) -> None:
    pid = kafka_pid()
    if not pid:
        KAFKA_PID_FILE.unlink(missing_ok=True)
        info("kafka: not running")
        return
    info(f"kafka: stopping pid {pid}...")
    terminate(pid, s.kafka_stop_timeout, "kafka")
    KAFKA_PID_FILE.unlink(missing_ok=True)
    info("kafka: stopped")


def kafka_status(s: Settings) -> tuple[bool, str]:
    if s.external_kafka:
        problem = kafka_answers(s.external_kafka)
        state = "answering" if problem is None else f"NOT answering ({problem})"
        return problem is None, f"kafka: external {s.external_kafka}, {state}"
    pid = kafka_pid()
    if not pid:
        return False, "kafka: stopped"
    problem = local_probe(s)
    if problem:
        return False, f"kafka: pid {pid} alive but not answering on {s.local_bootstrap} ({problem})"
    return (
        True,
        f"kafka: running (pid {pid}) at {s.local_bootstrap} (SASL_SSL), Kafka {kafka_version()}, "
        f"logs {rel(KAFKA_LOGS)}/",
    )
