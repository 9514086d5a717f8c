"""Crash points for fault tests: a process dies on the spot, as if killed.

`YIWANG_CRASH_AT=outbox.before_publish` makes the process exit hard when it reaches that
point. Unset (always, in production) it costs one dictionary lookup.
"""

from __future__ import annotations

import os

CRASH_EXIT_CODE = 137  # what a SIGKILL'd process reports


def crash_point(name: str) -> None:
    if os.environ.get("YIWANG_CRASH_AT") == name:
        os._exit(CRASH_EXIT_CODE)
