"""Process, port and log-file helpers, and the lock that serializes up/down/ensure-jars."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from .common import LOCAL_DIR, LOCK_FILE, fail, info


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
