"""一考双评: the township's monthly assessment (who may, once, only of a department that
served it), the weights, and the evaluation score ranked beside the three rates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from oversight_fakes import T0, FakeAssessments, FakeReader, FakeRepository, FakeUnitOfWork
from yiwang.common.auth import Actor, Forbidden, Role
from yiwang.oversight.config import OversightSettings
from yiwang.oversight.domain.assessment import (
    AssessmentExists,
    BadMonth,
    BadWeights,
    EvaluationWeights,
    NotServedHere,
    TownshipAssessment,
    check_month,
    check_weights,
    evaluation_score,
    parse_month,
)
from yiwang.oversight.domain.kpi import CaseFigures, GroupBy, Score
from yiwang.oversight.handlers.assessments import assess_department, list_assessments
from yiwang.oversight.handlers.reports import rank_groups, report_kpis

UM, MS = "urban-management", "market-supervision"
MARCH = date(2026, 3, 1)


def official(township: str | None = "tw-east") -> Actor:
    return Actor(
        id="u1",
        name="li",
        roles=frozenset({Role.TOWNSHIP_OFFICIAL}),
        person=True,
        township_code=township,
    )


async def assess(
    uow: FakeUnitOfWork, *, actor: Actor | None = None, department: str = UM, score: int = 80
) -> TownshipAssessment:
    return await assess_department(
        uow=uow,
        actor=actor or official(),
        assessment_id=f"a-{department}-{score}",
        township_code="tw-east",
        department=department,
        month=MARCH,
        score=score,
        comment="回访及时，联系 13912345678",
        now=T0,
    )


def served_uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(FakeRepository(), FakeAssessments(served={("tw-east", UM)}))


async def test_a_township_assesses_a_department_that_served_it_once_a_month() -> None:
    uow = served_uow()
    kept = await assess(uow)
    assert (kept.month, kept.score, kept.assessed_by) == (MARCH, 80, official().audit_name)
    assert "13912345678" not in (kept.comment or "")  # scrubbed like every free text
    with pytest.raises(AssessmentExists):
        await assess(uow, score=60)
    assert [a.score for a in uow.assessments.kept.values()] == [80]


async def test_only_the_official_of_that_township_assesses() -> None:
    uow = served_uow()
    with pytest.raises(Forbidden):
        await assess(uow, actor=official("tw-west"))
    with pytest.raises(Forbidden):
        await assess(uow, actor=official(None))
    assert uow.assessments.kept == {}


async def test_a_department_that_handled_no_case_there_cannot_be_assessed() -> None:
    with pytest.raises(NotServedHere, match="market-supervision"):
        await assess(served_uow(), department=MS)


def test_months_and_weights_are_checked() -> None:
    assert parse_month("2026-02") == date(2026, 2, 1)
    for bad in ("2026-13", "2026-2", "march"):
        with pytest.raises(BadMonth):
            parse_month(bad)
    assert check_month(date(2026, 2, 1), today=date(2026, 3, 5)).last == date(2026, 2, 28)
    assert check_month(date(2026, 3, 1), today=date(2026, 3, 5)).first == date(2026, 3, 1)
    with pytest.raises(BadMonth, match="not begun"):
        check_month(date(2026, 4, 1), today=date(2026, 3, 31))
    with pytest.raises(BadMonth):
        check_month(date(1999, 12, 1), today=date(2026, 3, 5))
    assert check_weights(EvaluationWeights(0.3, 0.7)) == EvaluationWeights(0.3, 0.7)
    with pytest.raises(BadWeights, match="sum to 1"):
        check_weights(EvaluationWeights(0.5, 0.6))
    with pytest.raises(ValueError, match="sum to 1"):
        OversightSettings(OVERSIGHT_WEIGHT_TOWNSHIP=0.2, OVERSIGHT_WEIGHT_RESIDENTS=0.2)
    assert OversightSettings(
        OVERSIGHT_WEIGHT_TOWNSHIP=0.25, OVERSIGHT_WEIGHT_RESIDENTS=0.75
    ).evaluation_weights == EvaluationWeights(0.25, 0.75)


def a(department: str, score: int, township: str = "tw-east") -> TownshipAssessment:
    return TownshipAssessment(
        f"{township}-{department}", township, department, MARCH, score, None, "li", T0
    )


def test_the_evaluation_score_weighs_both_halves() -> None:
    weights = EvaluationWeights(township=0.4, residents=0.6)
    both = evaluation_score(
        assessments=[a(UM, 70), a(UM, 90, "tw-west")], satisfaction=0.5, weights=weights
    )
    assert (both.township_score, both.residents_score, both.score, both.complete) == (
        80.0,
        50.0,
        0.4 * 80 + 0.6 * 50,
        True,
    )
    only_residents = evaluation_score(assessments=[], satisfaction=1.0, weights=weights)
    assert (only_residents.score, only_residents.complete) == (100.0, False)
    nothing = evaluation_score(assessments=[], satisfaction=None, weights=weights)
    assert nothing.score is None


def figures(case_id: str, lead: str, score: int) -> CaseFigures:
    return CaseFigures(
        case_id=case_id,
        lead_department=lead,
        township_code="tw-east",
        lead_history=(lead,),
        returned_by=(),
        return_count=0,
        responded_at=T0,
        resolved_at=T0 + timedelta(hours=5),
        response_due=T0 + timedelta(days=1),
        resolution_due=T0 + timedelta(days=7),
        score=score,
    )


async def test_an_assessment_changes_the_evaluation_ranking() -> None:
    assessed = FakeAssessments(served={("tw-east", UM), ("tw-east", MS)})
    # Residents: urban management 1/1 satisfied, market supervision 1/2.
    cases = [figures("c1", UM, 5), figures("c2", MS, 5), figures("c3", MS, 2)]
    reader = FakeReader(FakeRepository(), figures=cases, assessments=assessed)
    weights = EvaluationWeights(0.5, 0.5)

    async def order() -> list[tuple[int, str, float | None]]:
        ranked = await rank_groups(
            reader=reader,
            first=MARCH,
            last=date(2026, 3, 31),
            group_by=GroupBy.DEPARTMENT,
            by=Score.EVALUATION_SCORE,
            as_of=T0 + timedelta(days=30),
            weights=weights,
        )
        scores = [r.row.evaluation.score if r.row.evaluation else None for r in ranked]
        return [(r.rank, r.row.group, s) for r, s in zip(ranked, scores, strict=True)]

    assert await order() == [(1, UM, 100.0), (2, MS, 50.0)]
    uow = FakeUnitOfWork(FakeRepository(), assessed)
    await assess(uow, department=UM, score=0)
    await assess(uow, department=MS, score=100)
    assert await order() == [(1, MS, 75.0), (2, UM, 50.0)]
    report = await report_kpis(
        reader=reader,
        first=MARCH,
        last=date(2026, 3, 31),
        group_by=GroupBy.TOWNSHIP,
        as_of=T0,
        weights=weights,
    )
    assert all(row.evaluation is None for row in report.rows)  # departments only


async def test_assessments_are_listed_in_the_readers_scope() -> None:
    assessed = FakeAssessments(served={("tw-east", UM)})
    await assess(FakeUnitOfWork(FakeRepository(), assessed))
    reader = FakeReader(FakeRepository(), assessments=assessed)
    mine = await list_assessments(reader=reader, month=MARCH, actor=official())
    assert [x.department for x in mine] == [UM]
    assert await list_assessments(reader=reader, month=MARCH, actor=official("tw-west")) == []
    auditor = Actor(id="a", name="audit", roles=frozenset({Role.AUDITOR}), person=True)
    assert len(await list_assessments(reader=reader, month=MARCH, actor=auditor)) == 1
