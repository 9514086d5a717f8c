"""对账 (reconciliation): what intake received, what department-dispatch holds and what
oversight's projection shows for one period, compared case by case (pure).

Each service answers for the cases received in the period (intake by its receipt,
dispatch by the routed case's `received_at`, oversight by the case's receipt). Every case
one of them lacks, or on which they disagree, is listed with what each says:

| disagreement | meaning |
|---|---|
| missing_in_intake | dispatch or oversight has the case, intake does not |
| missing_in_oversight | intake or dispatch has it, oversight's projection does not |
| missing_in_dispatch | oversight saw it dispatched, dispatch holds no such case |
| dispatch_unseen | dispatch issued work orders, oversight never saw it dispatched |
| state_differs | intake and oversight show different states |

A state changes on every service within moments of the event: `state_differs` for a case
that moved while the services were asked is transient; one that stays is real.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Disagreement(StrEnum):
    MISSING_IN_INTAKE = "missing_in_intake"
    MISSING_IN_OVERSIGHT = "missing_in_oversight"
    MISSING_IN_DISPATCH = "missing_in_dispatch"
    DISPATCH_UNSEEN = "dispatch_unseen"
    STATE_DIFFERS = "state_differs"


@dataclass(frozen=True, slots=True)
class IntakeCase:
    case_id: str
    state: str
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class DispatchCase:
    case_id: str
    state: str
    work_orders: int


@dataclass(frozen=True, slots=True)
class ProjectedCase:
    case_id: str
    state: str | None
    dispatched: bool  # oversight saw it dispatched at least once


@dataclass(frozen=True, slots=True)
class CaseDisagreement:
    case_id: str
    disagreements: tuple[Disagreement, ...]
    intake_state: str | None
    dispatch_state: str | None
    work_orders: int | None
    oversight_state: str | None


@dataclass(frozen=True, slots=True)
class Counts:
    intake: int
    department_dispatch: int
    oversight: int
    oversight_dispatched: int


@dataclass(frozen=True, slots=True)
class Reconciliation:
    counts: Counts
    cases: list[CaseDisagreement] = field(default_factory=list)

    @property
    def agreed(self) -> bool:
        return not self.cases


def _disagreements(
    intake: IntakeCase | None, dispatch: DispatchCase | None, oversight: ProjectedCase | None
) -> tuple[Disagreement, ...]:
    found: list[Disagreement] = []
    if intake is None:
        found.append(Disagreement.MISSING_IN_INTAKE)
    if oversight is None:
        found.append(Disagreement.MISSING_IN_OVERSIGHT)
    if oversight is not None and oversight.dispatched and dispatch is None:
        found.append(Disagreement.MISSING_IN_DISPATCH)
    if (
        dispatch is not None
        and dispatch.work_orders > 0
        and oversight is not None
        and not oversight.dispatched
    ):
        found.append(Disagreement.DISPATCH_UNSEEN)
    if intake is not None and oversight is not None and intake.state != oversight.state:
        found.append(Disagreement.STATE_DIFFERS)
    return tuple(found)


def reconcile(
    *,
    intake: Mapping[str, IntakeCase],
    dispatch: Mapping[str, DispatchCase],
    oversight: Mapping[str, ProjectedCase],
) -> Reconciliation:
    """Every case any side knows, compared; those that disagree, by case id."""
    cases: list[CaseDisagreement] = []
    for case_id in sorted(intake.keys() | dispatch.keys() | oversight.keys()):
        i, d, o = intake.get(case_id), dispatch.get(case_id), oversight.get(case_id)
        found = _disagreements(i, d, o)
        if found:
            cases.append(
                CaseDisagreement(
                    case_id=case_id,
                    disagreements=found,
                    intake_state=i.state if i else None,
                    dispatch_state=d.state if d else None,
                    work_orders=d.work_orders if d else None,
                    oversight_state=o.state if o else None,
                )
            )
    counts = Counts(
        intake=len(intake),
        department_dispatch=len(dispatch),
        oversight=len(oversight),
        oversight_dispatched=sum(1 for o in oversight.values() if o.dispatched),
    )
    return Reconciliation(counts=counts, cases=cases)
