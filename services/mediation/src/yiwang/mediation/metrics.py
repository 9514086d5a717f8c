"""Mediation metrics. Labels are bounded enums: 4 levels x 8 dispute types x 6 outcomes."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from yiwang.mediation.domain.transitions import Step
from yiwang.mediation.domain.workflow import MediationCase

# Success rate by level and dispute type (PromQL, see docs/mediation.md):
#   sum by (level, dispute_type) (rate(..{outcome="agreement"}[1d]))
#     / sum by (level, dispute_type) (rate(..[1d]))
OUTCOMES = Counter(
    "yiwang_mediation_outcomes_total",
    "Mediation outcomes at a rung: agreement, failed, expired, withdrawn, declined, referred",
    ["level", "dispute_type", "outcome"],
)
TIME_TO_AGREEMENT = Histogram(
    "yiwang_mediation_time_to_agreement_seconds",
    "From the dispute's arrival in mediation to the signed agreement",
    ["level"],
    buckets=[d * 86400 for d in (1, 3, 7, 15, 30, 45, 60, 90, 120)],
)
REFERRALS = Counter(
    "yiwang_mediation_referrals_total",
    "Disputes referred to court or arbitration (诉调对接)",
    ["dispute_type", "venue"],
)
FOLLOW_UPS = Counter(
    "yiwang_mediation_follow_ups_total", "Agreements followed up, by result", ["result"]
)
COUNTED = frozenset({"agreement", "failed", "expired", "withdrawn", "declined"})


def observe(case: MediationCase, steps: list[Step]) -> None:
    """Count what committed; called after the unit of work left its block without error."""
    for step in steps:
        if step.step in COUNTED:
            OUTCOMES.labels(step.level.value, case.dispute_type.value, step.step).inc()
        elif step.step == "referred":
            OUTCOMES.labels(step.level.value, case.dispute_type.value, "referred").inc()
            REFERRALS.labels(case.dispute_type.value, step.outcome or "court").inc()
        elif step.step in ("honoured", "not_honoured"):
            FOLLOW_UPS.labels(step.step).inc()
        if step.step == "agreement" and case.agreement is not None:
            elapsed = (case.agreement.signed_at - case.opened_at).total_seconds()
            TIME_TO_AGREEMENT.labels(step.level.value).observe(max(elapsed, 0.0))
