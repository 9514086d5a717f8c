"""Intake's own metrics. Labels are bounded enums: 6 channels x 4 outcomes; two erasure
reasons.

The shared ones (requests, events consumed, outbox, background jobs, case transitions)
are counted by libs/common for every service.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter
from yiwang.intake.domain.batch import Admitted, Refused, SubmissionRequest

# Duplicate share by channel (PromQL):
#   sum by (channel) (rate(..{outcome="duplicate"}[1h]))
#     / sum by (channel) (rate(..{outcome=~"created|duplicate"}[1h]))
SUBMISSIONS = Counter(
    "yiwang_intake_submissions_total",
    "Submissions admitted, by channel and outcome: created (a new case), duplicate (a new "
    "case linked to an open one), repeat (a retry answered with its case), refused",
    ["channel", "outcome"],
)


PERSONAL_DATA_ERASED = Counter(
    "yiwang_intake_personal_data_erased_total",
    "Cases whose reporters' personal data was erased, by reason: retention (closed longer "
    "ago than INTAKE_PII_RETENTION_DAYS) or request (a resident's erasure request)",
    ["reason"],
)
PERSONAL_DATA_UNSEALED = Counter(
    "yiwang_intake_personal_data_unsealed_total",
    "Reporters' phone numbers unsealed for a hotline call-back (each one audited)",
)


def outcome(result: Admitted | Refused) -> str:
    if isinstance(result, Refused):
        return "refused"
    if not result.created:
        return "repeat"
    return "duplicate" if result.duplicate_of else "created"


def count_submissions(
    requests: Sequence[SubmissionRequest], results: Sequence[Admitted | Refused]
) -> None:
    """Count what committed; called after the unit of work left its block without error."""
    for request, result in zip(requests, results, strict=True):
        if isinstance(result, Refused) and not result.answered:
            continue  # a redelivered record: counted the first time
        SUBMISSIONS.labels(request.submission.channel.value, outcome(result)).inc()
