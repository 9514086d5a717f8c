"""Dispatch's own Prometheus metrics, with bounded labels (channel, reason code, outcome,
alert kind, department)."""

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
RULINGS = Counter(
    "yiwang_dispatch_rulings_total",
    "The county hub's final rulings (终审), by the department named",
    ["department"],
)
REMINDERS = Counter(
    "yiwang_dispatch_reminders_total",
    "Reminders (催办) sent to departments for their open lead orders, by alert kind",
    ["kind"],
)
REHANDLINGS = Counter(
    "yiwang_dispatch_rehandlings_total",
    "Cases reopened after an unsatisfied evaluation: dispatched again, or why not",
    ["outcome"],
)
