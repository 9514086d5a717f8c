"""Crash points for fault tests: a process dies on the spot, as if killed.

`YIWANG_CRASH_AT=outbox.before_publish` makes the process exit hard the first time it
reaches that point; `YIWANG_CRASH_AT=consumer.after_handle:1500` the 1,500th time. Unset
(always, in production) it costs one dictionary lookup.
"""

from __future__ import annotations

import os
from collections import Counter

CRASH_EXIT_CODE = 137  # what a SIGKILL'd process reports
_reached: Counter[str] = Counter()


def crash_point(name: str) -> None:
    wanted = os.environ.get("YIWANG_CRASH_AT")
    if not wanted or not wanted.startswith(name):
        return
    point, _, times = wanted.partition(":")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(times or 1):
        os._exit(CRASH_EXIT_CODE)
