"""What grid-routing decides (CaseRouted) and takes back (CaseReturned)."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field
from yiwang.common.case import (
    CaseFacts,
    Code,
    Contract,
    Text,
)
from yiwang.common.departments import Department
from yiwang.common.events.base import CaseEvent


class HandlingTier(StrEnum):
    GRID = "grid"  # 小事不出网格: the grid worker handles it
    TOWNSHIP = "township"
    COUNTY = "county"


class MicroGridRef(Contract):
    code: str
    name: str
    grid_code: str
    community_code: str
    township_code: str
    county_code: str


class GridMediatorRef(Contract):
    """The grid worker who mediates at the grid rung (调解员), from grid-routing's roster."""

    worker_id: str
    name: str


class CaseRouted(CaseEvent):
    event_type: ClassVar[str] = "yiwang.case.routed.v1"

    case: CaseFacts
    micro_grid: MicroGridRef | None
    department_units: dict[Department, str] = Field(default_factory=dict)
    lead_department: Department
    assisting_departments: tuple[Department, ...] = ()
    tier: HandlingTier
    sla_class: str
    to_mediation: bool = False
    triage: bool = False  # sent to the county hub for manual triage or arbitration
    rule_id: str
    reason: str
    excluded_departments: tuple[Department, ...] = ()
    attempt: int = Field(default=1, ge=1)
    # A matter settled in the grid and reopened after an unsatisfied evaluation is passed
    # up with its SLA clock restarted at the reopening, as re-handling `rehandling`.
    clock_restarted_at: AwareDatetime | None = None
    rehandling: int = Field(default=0, ge=0)
    # A dispute to mediation: the micro-grid's mediator on the roster takes its grid rung.
    grid_mediator: GridMediatorRef | None = None


class CaseReturned(CaseEvent):
    event_type: ClassVar[str] = "yiwang.case.returned.v1"

    department: Department
    reason_code: Code
    reason: Text
    return_count: int = Field(ge=1)


class MediationOutcome(StrEnum):
    DECLINED = "declined"  # the committee did not take the dispute (不予受理)
    WITHDRAWN = "withdrawn"  # a party withdrew from mediation


class CaseLeftMediation(CaseEvent):
    """On case.returned.v1: mediation hands a dispute back to routing (declined or
    withdrawn); routing sends it to its category's lead department, never to mediation
    again. Not a department's return: it counts towards no arbitration."""

    event_type: ClassVar[str] = "yiwang.case.left-mediation.v1"

    mediation_id: str
    outcome: MediationOutcome
    reason: Text
