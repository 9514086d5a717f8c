"""Department-dispatch use cases, one module per group, each in one unit of work:

- work_orders: dispatch_routed_case, list_work_orders (and issuing or withdrawing an order)
- alerts: take_oversight_alert (escalate up the command, remind the departments)
- rulings: rule_on_case (the hub's final ruling, 终审)
- rehandling: rehandle_case (不满意重办, on oversight's CaseReopened)
- replies: take_department_reply (apply it, or audit why not)
- whistles: blow_whistle, record_missed_attendance
- credentials: actor_for_api_key (the ApiKeyVerifier), issue_api_key, revoke_api_keys
- signing: departments' Kafka signing secrets (current, rotate, re-seal) and
  take_signed_reply (a reply from Kafka, if its signature holds)
"""

from yiwang.department_dispatch.handlers.alerts import take_oversight_alert
from yiwang.department_dispatch.handlers.credentials import (
    actor_for_api_key,
    identify_api_key,
    issue_api_key,
    revoke_api_keys,
)
from yiwang.department_dispatch.handlers.rehandling import rehandle_case
from yiwang.department_dispatch.handlers.replies import ReplyOutcome, take_department_reply
from yiwang.department_dispatch.handlers.rulings import rule_on_case
from yiwang.department_dispatch.handlers.signing import (
    SignedRecord,
    SigningSecret,
    current_signing_secret,
    reseal_signing_secrets,
    rotate_signing_secret,
    take_signed_reply,
)
from yiwang.department_dispatch.handlers.whistles import blow_whistle, record_missed_attendance
from yiwang.department_dispatch.handlers.work_orders import (
    dispatch_routed_case,
    dispatch_routed_cases,
    list_work_orders,
)

__all__ = [
    "ReplyOutcome",
    "SignedRecord",
    "SigningSecret",
    "actor_for_api_key",
    "blow_whistle",
    "current_signing_secret",
    "dispatch_routed_case",
    "dispatch_routed_cases",
    "identify_api_key",
    "issue_api_key",
    "list_work_orders",
    "record_missed_attendance",
    "rehandle_case",
    "reseal_signing_secrets",
    "revoke_api_keys",
    "rotate_signing_secret",
    "rule_on_case",
    "take_department_reply",
    "take_oversight_alert",
    "take_signed_reply",
]
