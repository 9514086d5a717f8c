"""Department-dispatch use cases, one module per group, each in one unit of work:

- work_orders: dispatch_routed_case, escalate_case (and issuing or withdrawing an order)
- replies: take_department_reply (apply it, or audit why not)
- whistles: blow_whistle, record_missed_attendance
- credentials: identify_api_key, issue_api_key, revoke_api_keys
"""

from yiwang.department_dispatch.handlers.credentials import (
    identify_api_key,
    issue_api_key,
    revoke_api_keys,
)
from yiwang.department_dispatch.handlers.replies import ReplyOutcome, take_department_reply
from yiwang.department_dispatch.handlers.whistles import blow_whistle, record_missed_attendance
from yiwang.department_dispatch.handlers.work_orders import dispatch_routed_case, escalate_case

__all__ = [
    "ReplyOutcome",
    "blow_whistle",
    "dispatch_routed_case",
    "escalate_case",
    "identify_api_key",
    "issue_api_key",
    "record_missed_attendance",
    "revoke_api_keys",
    "take_department_reply",
]
