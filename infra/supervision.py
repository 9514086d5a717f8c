"""`make run`'s process supervision: every process it starts is restarted with back-off when
it exits, and any process an earlier run left behind can be found and stopped.

Each child is started in its own session with `YIWANG_SUPERVISED_BY=make-run:<run dir>` in
its environment, and its pid is written to <run dir>/<name>.pid. `stop_leftovers` stops the
processes named by the pid files and, should a pid file be lost (a killed run, a deleted
.local/run), every process whose environment carries this run directory's marker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "YIWANG_SUPERVISED_BY"
FIRST_DELAY, MAX_DELAY = 1.0, 60.0
# A process that ran this long before exiting starts again at once: it was not crash-looping.
STABLE_AFTER = 60.0

Start = Callable[[dict[str, str]], "subprocess.Popen[bytes]"]


def marker(run_dir: Path) -> str:
    return f"make-run:{run_dir.resolve()}"


@dataclass
class Supervised:
    name: str
    start: Start
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    delay: float = FIRST_DELAY
    restart_at: float | None = None
    last_exit: int | None = None


@dataclass
class Supervisor:
    """Starts the processes, restarts one that exits (1 s, 2 s, 4 s ... up to 60 s), and
    reports each one's state for the live view."""

    run_dir: Path
    env: dict[str, str]
    children: dict[str, Supervised] = field(default_factory=dict)
    log: Callable[[str], None] = print

    def add(self, name: str, start: Start) -> None:
        child = Supervised(name, start)
        self.children[name] = child
        self._start(child)

    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        return {n: c.process for n, c in self.children.items() if c.process is not None}

    def _start(self, child: Supervised) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        child.process = child.start({**self.env, MARKER: marker(self.run_dir)})
        child.started_at = time.monotonic()
        child.restart_at = None
        (self.run_dir / f"{child.name}.pid").write_text(str(child.process.pid))

    def check(self, now: float | None = None) -> None:
        """One pass: notice exits, start again those whose back-off has passed."""
        now = time.monotonic() if now is None else now
        for child in self.children.values():
            if child.restart_at is None and child.process is not None:
                code = child.process.poll()
                if code is None:
                    continue
                child.last_exit = code
                if now - child.started_at >= STABLE_AFTER:
                    child.delay = FIRST_DELAY
                child.restart_at = now + child.delay
                self.log(f"{child.name} exited ({code}); starting it again in {child.delay:g}s")
                child.delay = min(child.delay * 2, MAX_DELAY)
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._start(child)
                self.log(f"{child.name} started again (restart {child.restarts})")

    def states(self) -> dict[str, str]:
        """name -> "up", or "restarting in 4s (exited 1)"; with the number of restarts."""
        now = time.monotonic()
        found = {}
        for name, child in self.children.items():
            if child.restart_at is not None:
                state = f"exited {child.last_exit}, restarting in {child.restart_at - now:.0f}s"
            else:
                state = "up"
            if child.restarts:
                state += f", {child.restarts} restart{'s' if child.restarts > 1 else ''}"
            found[name] = state
        return found

    def stop(self, *, grace: float = 15.0) -> None:
        processes = [c.process for c in self.children.values() if c.process is not None]
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        for name in self.children:
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)


def _marked(run_dir: Path) -> list[int]:
    """Processes whose environment carries this run directory's marker."""
    wanted = f"{MARKER}={marker(run_dir)}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if wanted in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
    return found


def stop_leftovers(run_dir: Path, *, grace: float = 10.0) -> list[int]:
    """Stop everything an earlier run in `run_dir` left behind; the pids it stopped."""
    pids: set[int] = set(_marked(run_dir))
    for pid_file in run_dir.glob("*.pid") if run_dir.exists() else ():
        with contextlib.suppress(ValueError, OSError):
            pids.add(int(pid_file.read_text().split()[0]))
        pid_file.unlink(missing_ok=True)
    # A pid file may name a pid that was reused: only processes with the marker are ours.
    ours = [pid for pid in pids if pid in set(_marked(run_dir))]
    for pid in ours:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in ours):
        time.sleep(0.2)
    for pid in ours:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    return ours


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
