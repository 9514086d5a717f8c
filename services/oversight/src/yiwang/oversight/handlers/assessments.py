"""一考双评: a township official assesses a department that served the township this
month (one each), and anyone who reads reports lists the assessments in their scope.

The official acts for the township of their token (`township_code` claim): another
township's assessment is Forbidden. The comment is scrubbed of phones, ID numbers and
e-mail before it is kept, like every free text in oversight.
"""

from __future__ import annotations

from datetime import date, datetime

from yiwang.common.auth import Actor, check_township
from yiwang.common.working_days import local_date
from yiwang.oversight.adapters.queries import OversightReader
from yiwang.oversight.adapters.unit_of_work import OversightUnitOfWork
from yiwang.oversight.domain.access import scope_of
from yiwang.oversight.domain.assessment import (
    AssessmentExists,
    NotServedHere,
    TownshipAssessment,
    check_month,
    check_score,
)
from yiwang.oversight.handlers.evaluations import scrubbed


async def assess_department(
    *,
    uow: OversightUnitOfWork,
    actor: Actor,
    assessment_id: str,
    township_code: str,
    department: str,
    month: date,
    score: int,
    comment: str | None,
    now: datetime,
) -> TownshipAssessment:
    """Keep the township's assessment of the department for the month: Forbidden for
    another township's official, NotServedHere if the department handled no case there
    that month, AssessmentExists for a second one."""
    check_township(actor, township_code)
    period = check_month(month, today=local_date(now))
    assessment = TownshipAssessment(
        assessment_id=assessment_id,
        township_code=township_code,
        department=department,
        month=period.first,
        score=check_score(score),
        comment=scrubbed(comment),
        assessed_by=actor.audit_name,
        assessed_at=now,
    )
    async with uow:
        if not await uow.assessments.handled_in(
            township_code=township_code, department=department, start=period.start, end=period.end
        ):
            raise NotServedHere(
                f"{department} handled no case in township {township_code} in {period.first:%Y-%m}"
            )
        if not await uow.assessments.add(assessment):
            raise AssessmentExists(
                f"township {township_code} assessed {department} for {period.first:%Y-%m} already"
            )
    return assessment


async def list_assessments(
    *, reader: OversightReader, month: date, actor: Actor
) -> list[TownshipAssessment]:
    """The month's assessments the actor may read: all of them for the hub, auditors and
    administrators; a township's own for its official, a department's for its staff."""
    period = check_month(month, today=date.max)
    scope = scope_of(actor)
    found = await reader.assessments(first=period.first, last=period.last)
    return [
        a
        for a in found
        if scope.everything or a.township_code == scope.township or a.department == scope.department
    ]
