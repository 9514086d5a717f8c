"""JSON shapes of the API. Parties show masked values only; sealed data never leaves."""

from __future__ import annotations

from typing import Any

from yiwang.mediation.domain.parties import Party
from yiwang.mediation.domain.roster import Mediator
from yiwang.mediation.handlers import MediationView


def party_json(party: Party) -> dict[str, Any]:
    return {
        "party_id": party.party_id,
        "role": party.role.value,
        "name_masked": party.name_masked,
        "phone_masked": party.phone_masked,
        "id_number_masked": party.id_number_masked,
        "reporter_id": party.reporter_id,
    }


def mediator_json(m: Mediator) -> dict[str, Any]:
    return {
        "mediator_id": m.mediator_id,
        "name": m.name,
        "level": m.level.value,
        "area_code": m.area_code,
        "trade": m.trade.value if m.trade else None,
        "specialties": sorted(s.value for s in m.specialties),
        "load": m.load,
        "capacity": m.capacity,
        "active": m.active,
        "changed_by": m.changed_by,
    }


def mediation_json(view: MediationView) -> dict[str, Any]:
    case = view.case
    agreement = case.agreement
    return {
        "mediation_id": case.mediation_id,
        "case_id": case.case_id,
        "case_number": case.routed.case.case_number,
        "category": case.routed.case.category,
        "dispute_type": case.dispute_type.value,
        "status": case.status.value,
        "level": case.level.value,
        "committee": case.committee.code,
        "case_state": case.case_state.value,
        "mediator_id": case.mediator_id,
        "amount_in_dispute": str(case.amount_in_dispute)
        if case.amount_in_dispute is not None
        else None,
        "opened_at": case.opened_at.isoformat(),
        "level_deadline": case.level_deadline.isoformat(),
        "agreement": None
        if agreement is None
        else {
            "terms": agreement.terms,
            "amounts": [
                {"description": a.description, "amount": str(a.amount)} for a in agreement.amounts
            ],
            "performance_deadline": agreement.performance_deadline.isoformat(),
            "signed_at": agreement.signed_at.isoformat(),
            "level": agreement.level.value,
        },
        "follow_up_due": case.follow_up_due,
        "referral_venue": case.referral_venue.value if case.referral_venue else None,
        "outcome_reason": case.outcome_reason,
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "parties": [party_json(p) for p in view.parties],
        "sessions": [
            {
                "session_id": s.session_id,
                "level": s.level,
                "mediator_id": s.mediator_id,
                "scheduled_at": s.scheduled_at.isoformat(),
                "place": s.place,
            }
            for s in view.sessions
        ],
        "history": [
            {
                "at": h.at.isoformat(),
                "step": h.step.step,
                "level": h.step.level.value,
                "outcome": h.step.outcome,
                "note": h.step.note,
                "actor": h.actor,
            }
            for h in view.history
        ],
    }
