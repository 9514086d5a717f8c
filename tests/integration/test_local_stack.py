"""The local stack's faults are one line that says what to do (infra/stack.py, run from a
copy of infra/ so that its .local/ is fresh and the running stack is left alone)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "infra" / "kafka", tmp_path / "infra" / "kafka")
    shutil.copytree(
        ROOT / "infra" / "devstack",
        tmp_path / "infra" / "devstack",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "infra" / "stack.py", tmp_path / "infra" / "stack.py")
    return tmp_path


def bin_dir_with(tmp_path: Path, *tools: str) -> str:
    """A PATH holding only python and the named tools."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    for tool in tools:
        found = shutil.which(tool)
        assert found, f"{tool} is needed on this machine for the test"
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stack_up(root: Path, path: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"JAVA_HOME", "KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"}
    }
    return subprocess.run(
        [sys.executable, str(root / "infra" / "stack.py"), "up", "--only", "kafka"],
        env={**clean, "PATH": path, "KAFKA_CONTROLLER_PORT": str(free_port()), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("yiwang-infra: ")]
    return errors[-1].removeprefix("yiwang-infra: ")


def test_java_missing(stack_copy: Path, tmp_path: Path) -> None:
    result = stack_up(stack_copy, bin_dir_with(tmp_path), KAFKA_PORT=str(free_port()))
    assert error_line(result).startswith("Java 17+ not found: install a JDK")


def test_maven_missing(stack_copy: Path, tmp_path: Path) -> None:
    result = stack_up(stack_copy, bin_dir_with(tmp_path, "java"), KAFKA_PORT=str(free_port()))
    line = error_line(result)
    assert "Maven" in line
    assert "install" in line


def test_kafka_port_in_use(stack_copy: Path, tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = stack_up(stack_copy, bin_dir_with(tmp_path, "java", "mvn"), KAFKA_PORT=str(port))
    line = error_line(result)
    assert f"port {port}" in line
    assert "KAFKA_PORT" in line


def test_the_local_broker_takes_sasl_ssl_only_and_allows_nothing_unless_granted(
    infra: dict[str, str],
) -> None:
    assert infra.get("KAFKA_SECURITY_PROTOCOL") == "SASL_SSL", (
        "KAFKA_BOOTSTRAP_SERVERS names a broker that is not the local stack's"
    )
    kafka = ROOT / ".local" / "kafka"
    props = dict(
        line.split("=", 1)
        for line in (kafka / "server.properties").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert [listener.split("://")[0] for listener in props["listeners"].split(",")] == [
        "CLIENT",
        "CONTROLLER",
    ]
    assert props["listener.security.protocol.map"] == "CLIENT:SASL_SSL,CONTROLLER:SASL_PLAINTEXT"
    assert props["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["authorizer.class.name"].endswith(".StandardAuthorizer")
    assert props["super.users"] == "User:admin"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    for secret in ("server.properties", "credentials.json", "tls/ca.key", "tls/broker.key"):
        assert (kafka / secret).stat().st_mode & 0o077 == 0, f"{secret} is readable by others"
    assert infra["KAFKA_SASL_USERNAME"] == "yiwang-tools"
    assert infra["KAFKA_SSL_CA_FILE"] == str(kafka / "tls" / "ca.crt")
    done = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "stack.py"), "credentials", "grid-routing"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert lines["KAFKA_SASL_USERNAME"] == "yiwang-grid-routing"
    assert lines["KAFKA_SASL_PASSWORD"] != infra["KAFKA_SASL_PASSWORD"]
