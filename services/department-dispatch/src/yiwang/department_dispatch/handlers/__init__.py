"""Department-dispatch use cases, one module per group, each in one unit of work:

- work_orders: dispatch_routed_case, list_work_orders (and issuing or withdrawing an order)
- alerts: take_oversight_alert (escalate up the command, remind the departments)
- rulings: rule_on_case (the hub's final ruling, 终审)
- rehandling: rehandle_case (不满意重办, on oversight's CaseReopened)
- replies: take_department_reply (apply it, or audit why not)
- whistles: blow_whistle, record_missed_attendance
- credentials: identify_api_key, issue_api_key, revoke_api_keys
"""

from yiwang.department_dispatch.handlers.alerts import take_oversight_alert
from yiwang.department_dispatch.handlers.credentials import (
    identify_api_key,
    issue_api_key,
    revoke_api_keys,
)
from yiwang.department_dispatch.handlers.rehandling import rehandle_case
from yiwang.department_dispatch.handlers.replies import ReplyOutcome, take_department_reply
from yiwang.department_dispatch.handlers.rulings import rule_on_case
from yiwang.department_dispatch.handlers.whistles import blow_whistle, record_missed_attendance
from yiwang.department_dispatch.handlers.work_orders import (
    dispatch_routed_case,
    list_work_orders,
)

__all__ = [
    "ReplyOutcome",
    "blow_whistle",
    "dispatch_routed_case",
    "identify_api_key",
    "issue_api_key",
    "list_work_orders",
    "record_missed_attendance",
    "rehandle_case",
    "revoke_api_keys",
    "rule_on_case",
    "take_department_reply",
    "take_oversight_alert",
]
