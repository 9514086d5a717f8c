"""Intake's background jobs: none.

Admission and the lifecycle view are driven by requests and records; nothing of intake's
waits on time. The jobs every service runs (the outbox relay that publishes what intake
emits, the consumer lag monitor) are the runtime's (`yiwang.common.service`).
"""

from __future__ import annotations

from yiwang.common.jobs import Job


def jobs() -> list[Job]:
    """Intake has no background jobs of its own."""
    return []
