"""The mediation repository on PostgreSQL (cases, steps, parties, sessions, timers), inside
the unit of work's transaction."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from yiwang.common.events import CaseRouted
from yiwang.common.states import CaseState
from yiwang.mediation.adapters.repository import (
    DueTimer,
    HistoryEntry,
    MediationRepository,
    Session,
)
from yiwang.mediation.domain.ladder import Committee, DisputeType, MediationLevel, ReferralVenue
from yiwang.mediation.domain.parties import Party, PartyRole
from yiwang.mediation.domain.transitions import Step
from yiwang.mediation.domain.workflow import (
    AgreedAmount,
    Agreement,
    MediationCase,
    MediationStatus,
)

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
OPEN_STATUSES = ("pending", "accepted", "agreed")
CASE_COLUMNS = (
    "mediation_id, case_id, dispute_type, routed, level, committee_area, committee_trade,"
    " status, case_state, round, opened_at, level_entered_at, level_deadline, mediator_id,"
    " amount_in_dispute, agreement, follow_up_due, referral_venue, outcome_reason, closed_at,"
    " sessions"
)
PARTY_COLUMNS = (
    "party_id, mediation_id, role, name_masked, phone_masked, id_number_masked, reporter_id,"
    " name_sealed, phone_sealed, id_number_sealed"
)


def _agreement_json(agreement: Agreement | None) -> str | None:
    if agreement is None:
        return None
    return json.dumps(
        {
            "terms": agreement.terms,
            "amounts": [[a.description, str(a.amount)] for a in agreement.amounts],
            "performance_deadline": agreement.performance_deadline.isoformat(),
            "signed_at": agreement.signed_at.isoformat(),
            "level": agreement.level.value,
        }
    )


def _agreement(raw: str | None) -> Agreement | None:
    if raw is None:
        return None
    value = json.loads(raw)
    return Agreement(
        terms=value["terms"],
        amounts=tuple(AgreedAmount(d, Decimal(a)) for d, a in value["amounts"]),
        performance_deadline=datetime.fromisoformat(value["performance_deadline"]),
        signed_at=datetime.fromisoformat(value["signed_at"]),
        level=MediationLevel(value["level"]),
    )


def _case(row: Any) -> MediationCase:
    level = MediationLevel(row["level"])
    trade = row["committee_trade"]
    return MediationCase(
        mediation_id=row["mediation_id"],
        case_id=row["case_id"],
        dispute_type=DisputeType(row["dispute_type"]),
        routed=CaseRouted.model_validate_json(row["routed"]),
        level=level,
        committee=Committee(level, row["committee_area"], DisputeType(trade) if trade else None),
        status=MediationStatus(row["status"]),
        case_state=CaseState(row["case_state"]),
        round=row["round"],
        opened_at=row["opened_at"],
        level_entered_at=row["level_entered_at"],
        level_deadline=row["level_deadline"],
        mediator_id=row["mediator_id"],
        amount_in_dispute=row["amount_in_dispute"],
        agreement=_agreement(row["agreement"]),
        follow_up_due=row["follow_up_due"],
        referral_venue=ReferralVenue(row["referral_venue"]) if row["referral_venue"] else None,
        outcome_reason=row["outcome_reason"],
        closed_at=row["closed_at"],
        sessions=row["sessions"],
    )


def _case_values(case: MediationCase) -> tuple[Any, ...]:
    return (
        case.mediation_id,
        case.case_id,
        case.dispute_type.value,
        case.routed.model_dump_json(),
        case.level.value,
        case.committee.area_code,
        case.committee.trade.value if case.committee.trade else None,
        case.status.value,
        case.case_state.value,
        case.round,
        case.opened_at,
        case.level_entered_at,
        case.level_deadline,
        case.mediator_id,
        case.amount_in_dispute,
        _agreement_json(case.agreement),
        case.follow_up_due,
        case.referral_venue.value if case.referral_venue else None,
        case.outcome_reason,
        case.closed_at,
        case.sessions,
    )


def _party(row: Any) -> Party:
    return Party(
        **{k: row[k] for k in PARTY_COLUMNS.split(", ") if k != "role"}, role=PartyRole(row["role"])
    )


class PostgresMediationRepository(MediationRepository):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, mediation_id: str, *, lock: bool = False) -> MediationCase | None:
        row = await self._conn.fetchrow(
            f"SELECT {CASE_COLUMNS} FROM mediation_case WHERE mediation_id = $1"
            + (" FOR UPDATE" if lock else ""),
            mediation_id,
        )
        return _case(row) if row else None

    async def open_for_case(self, case_id: str) -> MediationCase | None:
        row = await self._conn.fetchrow(
            f"SELECT {CASE_COLUMNS} FROM mediation_case WHERE case_id = $1"
            " AND status = ANY($2::text[])",
            case_id,
            list(OPEN_STATUSES),
        )
        return _case(row) if row else None

    async def add(self, case: MediationCase) -> bool:
        placeholders = ", ".join(f"${i}" for i in range(1, 22))
        inserted = await self._conn.fetchval(
            f"INSERT INTO mediation_case ({CASE_COLUMNS}) VALUES ({placeholders})"
            " ON CONFLICT DO NOTHING RETURNING true",
            *_case_values(case),
        )
        return bool(inserted)

    async def save(self, case: MediationCase) -> None:
        columns = CASE_COLUMNS.split(", ")
        assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=1) if i > 1)
        await self._conn.execute(
            f"UPDATE mediation_case SET {assignments}, updated_at = now() WHERE mediation_id = $1",
            *_case_values(case),
        )

    async def search(
        self,
        *,
        status: MediationStatus | None,
        case_id: str | None,
        area: str | None,
        limit: int,
    ) -> list[MediationCase]:
        rows = await self._conn.fetch(
            f"SELECT {CASE_COLUMNS} FROM mediation_case"
            " WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR case_id = $2)"
            " AND ($3::text IS NULL OR starts_with(committee_area, $3))"
            " ORDER BY opened_at DESC LIMIT $4",
            status.value if status else None,
            case_id,
            area,
            limit,
        )
        return [_case(r) for r in rows]

    async def add_step(self, mediation_id: str, step: Step, *, at: datetime, actor: str) -> None:
        await self._conn.execute(
            "INSERT INTO mediation_step (mediation_id, at, step, level, outcome, note, actor)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            mediation_id,
            at,
            step.step,
            step.level.value,
            step.outcome,
            step.note,
            actor,
        )

    async def history(self, mediation_id: str) -> list[HistoryEntry]:
        rows = await self._conn.fetch(
            "SELECT * FROM mediation_step WHERE mediation_id = $1 ORDER BY id", mediation_id
        )
        return [
            HistoryEntry(
                at=r["at"],
                step=Step(r["step"], MediationLevel(r["level"]), r["outcome"], r["note"]),
                actor=r["actor"],
            )
            for r in rows
        ]

    async def save_party(self, party: Party) -> None:
        names = PARTY_COLUMNS.split(", ")
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names[2:])
        await self._conn.execute(
            f"INSERT INTO party ({PARTY_COLUMNS}) VALUES ({', '.join(f'${i}' for i in range(1, 11))})"
            f" ON CONFLICT (party_id) DO UPDATE SET {updates}",
            *(getattr(party, n) if n != "role" else party.role.value for n in names),
        )

    async def get_party(self, mediation_id: str, party_id: str) -> Party | None:
        row = await self._conn.fetchrow(
            f"SELECT {PARTY_COLUMNS} FROM party WHERE mediation_id = $1 AND party_id = $2",
            mediation_id,
            party_id,
        )
        return _party(row) if row else None

    async def parties(self, mediation_id: str) -> list[Party]:
        rows = await self._conn.fetch(
            f"SELECT {PARTY_COLUMNS} FROM party WHERE mediation_id = $1 ORDER BY created_at",
            mediation_id,
        )
        return [_party(r) for r in rows]

    async def add_session(self, session: Session) -> None:
        await self._conn.execute(
            "INSERT INTO mediation_session (session_id, mediation_id, level, mediator_id,"
            " scheduled_at, place) VALUES ($1, $2, $3, $4, $5, $6)",
            session.session_id,
            session.mediation_id,
            session.level,
            session.mediator_id,
            session.scheduled_at,
            session.place,
        )

    async def sessions(self, mediation_id: str) -> list[Session]:
        rows = await self._conn.fetch(
            "SELECT * FROM mediation_session WHERE mediation_id = $1 ORDER BY scheduled_at",
            mediation_id,
        )
        return [Session(**dict(r)) for r in rows]

    async def add_timer(
        self, mediation_id: str, *, kind: str, round: int, due_at: datetime
    ) -> None:
        await self._conn.execute(
            "INSERT INTO mediation_timer (mediation_id, kind, round, due_at)"
            " VALUES ($1, $2, $3, $4)",
            mediation_id,
            kind,
            round,
            due_at,
        )

    async def claim_due_timers(self, *, now: datetime, limit: int) -> list[DueTimer]:
        rows = await self._conn.fetch(
            "SELECT timer_id, mediation_id, kind, round, due_at FROM mediation_timer"
            " WHERE NOT fired AND due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        return [DueTimer(**dict(r)) for r in rows]

    async def mark_fired(self, timer_id: int, *, now: datetime, outcome: str) -> None:
        await self._conn.execute(
            "UPDATE mediation_timer SET fired = true, fired_at = $2, outcome = $3"
            " WHERE timer_id = $1",
            timer_id,
            now,
            outcome,
        )
