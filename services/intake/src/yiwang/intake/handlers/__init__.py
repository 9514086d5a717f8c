"""Intake's use cases, one module per group; entrypoints call them as `handlers.<name>`.

- `admission`: admit_submissions (a Kafka poll), submit_case (one, over HTTP),
  reject_submission (a record that could not be read); `opening` writes and announces
  the cases a batch opens, inside its transaction; `platforms` checks the signatures of
  platforms' records first.
- `lifecycle`: record_state_changes, intake's view of case.lifecycle.v1.
- `invitations`: record_invitation, oversight's evaluation tokens.
- `personal_data`: call_back, accesses, erase_case, erase_ended, reseal.
- `queries`: get_case, list_cases, case_for_token.
"""

from yiwang.intake.handlers.admission import admit_submissions, reject_submission, submit_case
from yiwang.intake.handlers.invitations import record_invitation
from yiwang.intake.handlers.lifecycle import record_state_changes
from yiwang.intake.handlers.personal_data import (
    accesses,
    call_back,
    erase_case,
    erase_ended,
    reseal,
)
from yiwang.intake.handlers.platforms import check_undecodable, signed_requests
from yiwang.intake.handlers.queries import case_for_token, get_case, list_cases

__all__ = [
    "accesses",
    "admit_submissions",
    "call_back",
    "case_for_token",
    "check_undecodable",
    "erase_case",
    "erase_ended",
    "get_case",
    "list_cases",
    "record_invitation",
    "record_state_changes",
    "reject_submission",
    "reseal",
    "signed_requests",
    "submit_case",
]
