"""make run's supervisor (infra/supervision.py): a child that exits is started again after
a back-off that doubles up to a minute, and resets once a child has run for a while."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infra"))

import supervision


class FakeProcess:
    """Stands in for subprocess.Popen: `code` None while running."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.code: int | None = None

    def poll(self) -> int | None:
        return self.code


def supervised(tmp_path: Path) -> tuple[supervision.Supervisor, list[FakeProcess], list[str]]:
    started: list[FakeProcess] = []
    said: list[str] = []

    def start(env: dict[str, str]) -> Any:
        assert env[supervision.MARKER] == supervision.marker(tmp_path)
        started.append(FakeProcess(1000 + len(started)))
        return started[-1]

    supervisor = supervision.Supervisor(run_dir=tmp_path, env={}, log=said.append)
    supervisor.add("intake", start)
    return supervisor, started, said


def test_an_exited_child_starts_again_after_a_doubling_back_off(tmp_path: Path) -> None:
    supervisor, started, said = supervised(tmp_path)
    t = supervisor.children["intake"].started_at
    started[-1].code = 1
    supervisor.check(now=t + 1)
    assert supervisor.states()["intake"].startswith("exited 1, restarting in")
    supervisor.check(now=t + 1.5)
    assert len(started) == 1  # the first delay (1 s) has not passed
    supervisor.check(now=t + 2)
    assert len(started) == 2
    assert (tmp_path / "intake.pid").read_text() == "1001"
    supervisor.children["intake"].started_at = t + 2
    started[-1].code = 1
    supervisor.check(now=t + 3)
    supervisor.check(now=t + 4.5)
    assert len(started) == 2  # now 2 s
    supervisor.check(now=t + 5)
    assert len(started) == 3
    assert supervisor.states()["intake"] == "up, 2 restarts"
    assert said[0] == "intake exited (1); starting it again in 1s"


def test_the_back_off_resets_after_a_child_ran_for_a_while(tmp_path: Path) -> None:
    supervisor, started, _ = supervised(tmp_path)
    child = supervisor.children["intake"]
    child.delay = 32.0
    started[-1].code = 0
    supervisor.check(now=child.started_at + supervision.STABLE_AFTER + 1)
    assert child.restart_at == child.started_at + supervision.STABLE_AFTER + 1 + 1.0


def test_the_back_off_stops_at_a_minute(tmp_path: Path) -> None:
    supervisor, started, _ = supervised(tmp_path)
    child = supervisor.children["intake"]
    for _ in range(10):
        started[-1].code = 1
        now = child.started_at + 0.1
        supervisor.check(now=now)
        supervisor.check(now=now + supervision.MAX_DELAY)
    assert child.delay == supervision.MAX_DELAY
