"""Intake's use cases, one module per group; entrypoints call them as `handlers.<name>`.

- `admission`: admit_submissions (a Kafka poll), submit_case (one, over HTTP),
  reject_submission (a record that could not be read); `opening` writes and announces
  the cases a batch opens, inside its transaction.
- `lifecycle`: record_state_changes, intake's view of case.lifecycle.v1.
- `queries`: get_case, list_cases, case_for_token.
"""

from yiwang.intake.handlers.admission import admit_submissions, reject_submission, submit_case
from yiwang.intake.handlers.lifecycle import record_state_changes
from yiwang.intake.handlers.queries import case_for_token, get_case, list_cases

__all__ = [
    "admit_submissions",
    "case_for_token",
    "get_case",
    "list_cases",
    "record_state_changes",
    "reject_submission",
    "submit_case",
]
