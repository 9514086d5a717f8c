"""Java for Kafka, and the broker jars that Maven resolves from infra/kafka/pom.xml."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from .common import (
    KAFKA_HOME,
    KAFKA_LIBS,
    KAFKA_LIBS_PARTIAL,
    KAFKA_POM,
    KAFKA_STAMP,
    MIN_JAVA_MAJOR,
    fail,
    info,
    rel,
)


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
