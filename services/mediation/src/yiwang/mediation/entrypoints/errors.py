"""Domain refusals as HTTP errors that name the field and the reason (FastAPI's shape)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from yiwang.common.states import IllegalTransition
from yiwang.mediation.domain.roster import (
    MediatorAtCapacity,
    MediatorDoesNotServe,
    NoMediatorAvailable,
    TradeNotACommittee,
    UnknownMediator,
)
from yiwang.mediation.domain.workflow import UnknownMediation, WorkflowRefused
from yiwang.mediation.party_handlers import UnknownParty
from yiwang.mediation.roster_handlers import CapacityBelowLoad, MediatorExists

# exception type -> (status, location, field)
REFUSALS: dict[type[Exception], tuple[int, str, str]] = {
    UnknownMediation: (404, "path", "mediation_id"),
    UnknownParty: (404, "path", "party_id"),
    UnknownMediator: (404, "body", "mediator_id"),
    MediatorDoesNotServe: (409, "body", "mediator_id"),
    MediatorAtCapacity: (409, "body", "mediator_id"),
    NoMediatorAvailable: (409, "path", "mediation_id"),
    IllegalTransition: (409, "path", "mediation_id"),
    MediatorExists: (409, "body", "mediator_id"),
    CapacityBelowLoad: (409, "body", "capacity"),
    TradeNotACommittee: (422, "body", "trade"),
}


def problem(status: int, location: str, field: str, reason: str) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"detail": [{"loc": [location, field], "msg": reason}]}
    )


def install_refusals(app: FastAPI) -> None:
    async def refused(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, WorkflowRefused):
            location = "path" if exc.field == "mediation_id" else "body"
            return problem(exc.status, location, exc.field, str(exc))
        status, location, field = next(
            spec for kind, spec in REFUSALS.items() if isinstance(exc, kind)
        )
        return problem(status, location, field, str(exc))

    app.add_exception_handler(WorkflowRefused, refused)
    for kind in REFUSALS:
        app.add_exception_handler(kind, refused)
