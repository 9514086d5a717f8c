"""The local identity provider: Keycloak from Maven Central, with the demo realm.

`org.keycloak:keycloak-quarkus-dist` is downloaded once (checked against Maven Central's
SHA-1) into .local/keycloak, built once for an H2 file database with health checks, and
started with the `yiwang` realm imported (infra/devstack/keycloak_realm.py). Keycloak needs
Java 21 or newer: the first JDK found among KEYCLOAK_JAVA_HOME, JAVA_HOME and
/usr/lib/jvm/* that is new enough. When the realm definition changes, its data is dropped
and the realm imported again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

from .common import LOCAL_DIR, Settings, fail, info, rel
from .keycloak_realm import REALM, realm_json
from .processes import cmdline, pid_alive, read_pid, require_free_port, terminate

KEYCLOAK_VERSION = "26.7.3"
ARTIFACT = (
    "https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/"
    f"{KEYCLOAK_VERSION}/keycloak-quarkus-dist-{KEYCLOAK_VERSION}.tar.gz"
)
KEYCLOAK_DIR = LOCAL_DIR / "keycloak"
KEYCLOAK_HOME = KEYCLOAK_DIR / f"keycloak-{KEYCLOAK_VERSION}"
KEYCLOAK_PID_FILE = KEYCLOAK_DIR / "keycloak.pid"
KEYCLOAK_LOG = KEYCLOAK_DIR / "keycloak.log"
BUILD_STAMP = KEYCLOAK_DIR / "built.stamp"
REALM_STAMP = KEYCLOAK_DIR / "realm.sha256"
MIN_JAVA = 21
# Lean JVM options: about 350 MB resident instead of 480 (SerialGC, C1 only), and faster.
JAVA_OPTS = (
    "-XX:MetaspaceSize=96M -XX:MaxMetaspaceSize=256m -Dfile.encoding=UTF-8 "
    "-XX:+ExitOnOutOfMemoryError -Djava.security.egd=file:/dev/urandom -XX:+UseSerialGC "
    "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=64m -Xss512k -Xms32m -Xmx192m"
)


def issuer(s: Settings) -> str:
    return f"http://127.0.0.1:{s.keycloak_port}/realms/{REALM}"


def keycloak_java_home() -> str:
    candidates = [os.environ.get("KEYCLOAK_JAVA_HOME", ""), os.environ.get("JAVA_HOME", "")]
    with contextlib.suppress(OSError):
        candidates += sorted(
            (str(p) for p in Path("/usr/lib/jvm").iterdir() if p.is_dir()), reverse=True
        )
    for home in filter(None, candidates):
        java = Path(home) / "bin" / "java"
        if java.exists() and _java_major(java) >= MIN_JAVA:
            return home
    return fail(
        f"Keycloak needs Java {MIN_JAVA}+ and none was found (KEYCLOAK_JAVA_HOME, JAVA_HOME, "
        "/usr/lib/jvm); install one, e.g. `apt-get install openjdk-21-jdk-headless`"
    )


def _java_major(java: Path) -> int:
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return 0
    found = re.search(r'version "(\d+)', out)
    return int(found[1]) if found else 0


def ensure_keycloak() -> None:
    """Download, unpack and build once."""
    if BUILD_STAMP.is_file() and (KEYCLOAK_HOME / "bin" / "kc.sh").exists():
        return
    KEYCLOAK_DIR.mkdir(parents=True, exist_ok=True)
    archive = KEYCLOAK_DIR / f"keycloak-{KEYCLOAK_VERSION}.tar.gz"
    if not archive.is_file():
        info(f"keycloak: downloading Keycloak {KEYCLOAK_VERSION} from Maven Central (176 MB)...")
        partial = archive.with_suffix(".partial")
        try:
            with (
                urllib.request.urlopen(ARTIFACT, timeout=60) as response,
                partial.open("wb") as out,
            ):
                shutil.copyfileobj(response, out, 1 << 20)
            with urllib.request.urlopen(ARTIFACT + ".sha1", timeout=60) as response:
                expected = response.read().decode().split()[0].strip()
        except OSError as exc:
            partial.unlink(missing_ok=True)
            fail(f"could not download Keycloak from Maven Central: {exc}")
        digest = hashlib.sha1(partial.read_bytes(), usedforsecurity=False).hexdigest()
        if digest != expected:
            partial.unlink(missing_ok=True)
            fail(f"the Keycloak download is corrupt (sha1 {digest}, Maven Central says {expected})")
        partial.rename(archive)
    shutil.rmtree(KEYCLOAK_HOME, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(KEYCLOAK_DIR, filter="data")
    info("keycloak: building the server once (about a minute)...")
    done = subprocess.run(
        [str(KEYCLOAK_HOME / "bin" / "kc.sh"), "build", "--db=dev-file", "--health-enabled=true"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        fail(f"building Keycloak failed: {tail[0][:250]}")
    BUILD_STAMP.write_text(KEYCLOAK_VERSION + "\n")


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "JAVA_HOME": keycloak_java_home(),
        "JAVA_OPTS": os.environ.get("KEYCLOAK_JAVA_OPTS", JAVA_OPTS),
        "MALLOC_ARENA_MAX": "2",
        "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
        "KC_BOOTSTRAP_ADMIN_PASSWORD": os.environ.get("KEYCLOAK_ADMIN_PASSWORD", "admin"),
    }


def keycloak_pid() -> int | None:
    pid = read_pid(KEYCLOAK_PID_FILE)
    if pid and pid_alive(pid) and str(KEYCLOAK_HOME) in cmdline(pid):
        return pid
    return None


def _write_realm() -> None:
    """The realm file for import; when it changed, the old realm's data is dropped."""
    text = realm_json()
    digest = hashlib.sha256(text.encode()).hexdigest()
    imports = KEYCLOAK_HOME / "data" / "import"
    imports.mkdir(parents=True, exist_ok=True)
    (imports / f"{REALM}-realm.json").write_text(text, encoding="utf-8")
    previous = REALM_STAMP.read_text().strip() if REALM_STAMP.is_file() else ""
    if previous != digest:
        shutil.rmtree(KEYCLOAK_HOME / "data" / "h2", ignore_errors=True)
        REALM_STAMP.write_text(digest + "\n")


def keycloak_ready(s: Settings) -> str | None:
    """None when the realm answers; else what is wrong."""
    for url in (
        f"http://127.0.0.1:{s.keycloak_management_port}/health/ready",
        f"{issuer(s)}/.well-known/openid-configuration",
    ):
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                if response.status != 200:
                    return f"{url} answered {response.status}"
        except OSError as exc:
            return f"{url}: {exc}"
    return None


def keycloak_up(s: Settings) -> str:
    if s.external_oidc_issuer:
        info(f"keycloak: using the external identity provider {s.external_oidc_issuer}")
        return s.external_oidc_issuer
    pid = keycloak_pid()
    if pid is None:
        require_free_port(s.keycloak_port, "KEYCLOAK_PORT")
        require_free_port(s.keycloak_management_port, "KEYCLOAK_MANAGEMENT_PORT")
        ensure_keycloak()
        _write_realm()
        command = [
            str(KEYCLOAK_HOME / "bin" / "kc.sh"), "start", "--optimized",
            "--http-enabled=true", f"--hostname=http://127.0.0.1:{s.keycloak_port}",
            "--http-host=127.0.0.1", f"--http-port={s.keycloak_port}",
            f"--http-management-port={s.keycloak_management_port}",
            "--import-realm",
        ]  # fmt: skip
        with KEYCLOAK_LOG.open("ab") as log:
            process = subprocess.Popen(
                command, env=_env(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        KEYCLOAK_PID_FILE.write_text(f"{process.pid}\n")
        pid = process.pid
        info(f"keycloak: starting Keycloak {KEYCLOAK_VERSION} (pid {pid}), log {rel(KEYCLOAK_LOG)}")
    started = time.monotonic()
    deadline = started + s.keycloak_start_timeout
    while (problem := keycloak_ready(s)) is not None:
        if not pid_alive(pid):
            KEYCLOAK_PID_FILE.unlink(missing_ok=True)
            fail(f"Keycloak exited during start-up; see {rel(KEYCLOAK_LOG)}")
        if time.monotonic() > deadline:
            terminate(pid, 20, "keycloak")
            KEYCLOAK_PID_FILE.unlink(missing_ok=True)
            fail(
                f"Keycloak did not become ready within {s.keycloak_start_timeout:.0f}s ({problem}); "
                f"see {rel(KEYCLOAK_LOG)}, or raise KEYCLOAK_START_TIMEOUT"
            )
        time.sleep(0.5)
    info(f"keycloak: ready at {issuer(s)} after {time.monotonic() - started:.1f}s")
    return issuer(s)


def keycloak_down() -> None:
    pid = keycloak_pid()
    if pid is None:
        KEYCLOAK_PID_FILE.unlink(missing_ok=True)
        info("keycloak: not running")
        return
    info(f"keycloak: stopping pid {pid}...")
    terminate(pid, 30, "keycloak")
    KEYCLOAK_PID_FILE.unlink(missing_ok=True)
    info("keycloak: stopped")


def keycloak_status(s: Settings) -> tuple[bool, str]:
    if s.external_oidc_issuer:
        return True, f"keycloak: external identity provider {s.external_oidc_issuer}"
    pid = keycloak_pid()
    if pid is None:
        return False, "keycloak: stopped"
    problem = keycloak_ready(s)
    if problem:
        return False, f"keycloak: pid {pid} alive but not ready ({problem})"
    return True, f"keycloak: running (pid {pid}) at {issuer(s)}, log {rel(KEYCLOAK_LOG)}"
