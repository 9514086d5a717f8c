"""Dispatch's own Prometheus metrics, with bounded labels (channel, reason code, outcome)."""

from __future__ import annotations

from prometheus_client import Counter

REPLY_REJECTIONS = Counter(
    "yiwang_dispatch_reply_rejections_total",
    "Department replies rejected, by channel and reason",
    ["channel", "reason"],
)
SECURITY_EVENTS = Counter(
    "yiwang_dispatch_security_events_total",
    "Replies from a sender without a valid credential or not holding the assignment",
    ["channel", "reason"],
)
WHISTLE_ATTENDANCE = Counter(
    "yiwang_dispatch_whistle_attendance_total",
    "Whistle attendance recorded, by outcome",
    ["outcome"],
)
