"""The local PostgreSQL (or an external one named by DATABASE_URL): start, stop, status."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

from .common import PG_DATA, PG_DATABASE, PG_LOG, PG_SUPERUSER, Settings, fail, info, rel
from .pg_setup import (
    PgRunner,
    ensure_pg_os_user,
    initdb_once,
    last_meaningful,
    libpq_url,
    mask_password,
    pg_bin_dir,
    prepare_pg_dirs,
    require_pg_bin_dir,
    write_pg_conf,
)
from .processes import (
    file_size,
    last_error_line,
    pid_alive,
    read_pid,
    require_free_port,
    tcp_port_open,
)


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
