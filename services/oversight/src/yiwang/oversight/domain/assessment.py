"""一考双评 (one assessment, two evaluations): the township's monthly assessment of the
departments that serve it, and the evaluation score that combines it with residents'
satisfaction (pure).

Each month a township assesses each department that handled cases in its area: a score
0-100 and a comment, one per township, department and month. A department's evaluation
score for a period is

    weights.township x (mean township score of the months the period touches)
  + weights.residents x (satisfaction rate x 100)

on 0-100. Where one half is missing (no township assessed it, or no resident evaluated
its cases), the score is the other half alone, and `complete` says so; with neither it
has none and ranks last.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from yiwang.oversight.domain.periods import FIRST_DAY, LAST_DAY, Period, month_end

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
MAX_SCORE = 100


class AssessmentExists(ValueError):
    """The township assessed this department for this month already (one each)."""


class NotServedHere(ValueError):
    """The department handled no case in the township in that month: nothing to assess."""


class BadMonth(ValueError):
    """A month that cannot be assessed (malformed, outside 2000-2100, or still to come)."""


class BadWeights(ValueError):
    """Evaluation weights that do not make a weighted mean; names the setting."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True, slots=True)
class TownshipAssessment:
    assessment_id: str
    township_code: str
    department: str
    month: date  # the first day of the assessed month
    score: int  # 0-100
    comment: str | None
    assessed_by: str  # the official, as audited
    assessed_at: datetime


@dataclass(frozen=True, slots=True)
class EvaluationWeights:
    """How much the township's assessment and residents' satisfaction weigh (sum 1)."""

    township: float = 0.5
    residents: float = 0.5


def check_weights(weights: EvaluationWeights) -> EvaluationWeights:
    for field, value in (
        ("OVERSIGHT_WEIGHT_TOWNSHIP", weights.township),
        ("OVERSIGHT_WEIGHT_RESIDENTS", weights.residents),
    ):
        if not 0 <= value <= 1:
            raise BadWeights(field, f"{value} is not between 0 and 1")
    if not math.isclose(weights.township + weights.residents, 1.0, abs_tol=1e-9):
        raise BadWeights(
            "OVERSIGHT_WEIGHT_TOWNSHIP",
            f"the weights must sum to 1 (township {weights.township} + residents "
            f"{weights.residents})",
        )
    return weights


def parse_month(text: str) -> date:
    """'2026-03' -> 2026-03-01; BadMonth for anything else."""
    if not re.fullmatch(MONTH_PATTERN, text):
        raise BadMonth(f"'{text}' is not a month (YYYY-MM)")
    return date(int(text[:4]), int(text[5:7]), 1)


def check_month(month: date, *, today: date) -> Period:
    """The assessed month as a period of local dates: within 2000-2100 and not after the
    current month (a month may be assessed while it runs, never before it starts)."""
    first = month.replace(day=1)
    if not FIRST_DAY <= first <= LAST_DAY:
        raise BadMonth(
            f"{first:%Y-%m} is not a month between {FIRST_DAY:%Y-%m} and {LAST_DAY:%Y-%m}"
        )
    if first > today.replace(day=1):
        raise BadMonth(f"{first:%Y-%m} has not begun yet")
    return Period(first, month_end(first))


def check_score(score: int) -> int:
    if not 0 <= score <= MAX_SCORE:
        raise ValueError(f"score {score} is not between 0 and {MAX_SCORE}")
    return score


@dataclass(frozen=True, slots=True)
class EvaluationScore:
    """A department's 一考双评 for a period, on 0-100."""

    township_score: float | None  # the mean of the townships' assessments
    assessments: int
    residents_score: float | None  # satisfaction rate x 100
    score: float | None
    complete: bool  # both halves were there


def touches(assessment: TownshipAssessment, period: Period) -> bool:
    return assessment.month <= period.last and month_end(assessment.month) >= period.first


def evaluation_score(
    *,
    assessments: Sequence[TownshipAssessment],
    satisfaction: float | None,
    weights: EvaluationWeights,
) -> EvaluationScore:
    """Combine the townships' assessments (already chosen for the department and period)
    with residents' satisfaction rate (0-1, None without evaluations)."""
    township = sum(a.score for a in assessments) / len(assessments) if assessments else None
    residents = satisfaction * MAX_SCORE if satisfaction is not None else None
    if township is not None and residents is not None:
        score: float | None = weights.township * township + weights.residents * residents
    else:
        score = township if township is not None else residents
    return EvaluationScore(
        township_score=None if township is None else round(township, 2),
        assessments=len(assessments),
        residents_score=None if residents is None else round(residents, 2),
        score=None if score is None else round(score, 2),
        complete=township is not None and residents is not None,
    )
