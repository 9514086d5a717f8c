"""晒账: the public ledger counts publishable cases only, by township or department, with
nothing personal in it; and who may read it."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta

import pytest
from oversight_fakes import T0, FakeReader, FakeRepository
from test_practice_http import client_as, served
from yiwang.common.personal_data import scrub
from yiwang.oversight.domain.kpi import CaseFigures, GroupBy
from yiwang.oversight.domain.public_ledger import NotPublishable, public_ledger
from yiwang.oversight.handlers.ledgers import publish_ledger

UM, CG = "urban-management", "comprehensive-governance"
AS_OF = T0 + timedelta(days=30)


def case(
    case_id: str,
    *,
    category: str = "sanitation",
    channel: str = "hotline",
    lead: str = UM,
    township: str = "tw-east",
    resolved: bool = True,
    score: int | None = 5,
    grid_outcome: str | None = None,
) -> CaseFigures:
    return CaseFigures(
        case_id=case_id,
        lead_department=lead,
        township_code=township,
        lead_history=(lead,),
        returned_by=(),
        return_count=0,
        responded_at=T0,
        resolved_at=T0 + timedelta(hours=3) if resolved else None,
        response_due=T0 + timedelta(days=1),
        resolution_due=T0 + timedelta(days=7),
        score=score if resolved else None,
        micro_grid="mg-1",
        grid_outcome=grid_outcome,
        category=category,
        channel=channel,
        is_open=not resolved,
    )


CASES = [
    case("c1"),
    case("c2", resolved=False),  # open, past its resolution deadline
    case("c3", grid_outcome="settled", lead=CG),
    case("p1", category="petition-general", lead=CG),  # a petition: never published
    case("p2", channel="petition"),  # came in as a petition
    case("d1", category="neighbour-dispute", lead=CG),  # a dispute between people
    case("o1", category="public-order", lead=CG),  # who reported a public-order risk
    case("u1", category=None),  # type: ignore[arg-type]  # unknown: not published
    case("w1", township="tw-west", score=2),
]


def test_only_publishable_cases_are_counted() -> None:
    rows, county = public_ledger(GroupBy.TOWNSHIP, CASES, as_of=AS_OF)
    east = next(r for r in rows if r.group == "tw-east")
    assert (east.cases, east.open, east.overdue, east.resolved) == (3, 1, 1, 2)
    assert east.settled_in_grid_share == 1.0
    assert east.resolution_rate == round(2 / 3, 4)
    assert county.cases == 4
    assert county.satisfaction_rate == round(2 / 3, 4)
    by_department, _ = public_ledger(GroupBy.DEPARTMENT, CASES, as_of=AS_OF)
    assert {r.group: r.cases for r in by_department} == {CG: 1, UM: 3}
    assert all(r.settled_in_grid_share is None for r in by_department)


def test_micro_grids_are_too_small_to_publish() -> None:
    with pytest.raises(NotPublishable) as refused:
        public_ledger(GroupBy.GRID, CASES, as_of=AS_OF)
    assert refused.value.field == "group_by"


async def test_the_ledger_carries_nothing_personal() -> None:
    reader = FakeReader(FakeRepository(), figures=CASES)
    ledger = await publish_ledger(
        reader=reader,
        first=T0.date(),
        last=T0.date(),
        group_by=GroupBy.DEPARTMENT,
        as_of=AS_OF,
    )
    text = json.dumps([asdict(r) for r in [*ledger.rows, ledger.overall]], ensure_ascii=False)
    assert scrub(text).text == text  # no phone, ID number or e-mail
    assert not {"case_id", "description", "title", "comment"} & set(asdict(ledger.overall))


async def test_every_report_reader_reads_the_whole_countys_ledger() -> None:
    params = {"from": "2026-03-01", "to": "2026-03-31"}
    for who, status in (
        ("auditor", 200),
        ("east", 200),
        ("staff_um", 200),
        ("hub", 200),
        ("hotline", 403),
        ("mediator", 403),
        (None, 401),
    ):
        async with client_as(served(), who) as client:
            response = await client.get("/ledgers/public", params=params)
            assert response.status_code == status, (who, response.text)
    async with client_as(served(), "auditor") as auditor:
        grid = await auditor.get("/ledgers/public", params={**params, "group_by": "grid"})
        assert grid.status_code == 422
        assert grid.json()["errors"][0]["field"] == "group_by"
        csv = await auditor.get("/ledgers/public", params={**params, "format": "csv"})
        assert csv.text.startswith("group,cases,open,overdue,resolved,closed,")
