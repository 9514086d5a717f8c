"""Who may read which cases (pure).

The county hub's operators, auditors and administrators read every case. A township
official reads the cases in their township, department staff the cases their department
leads; someone with both roles reads both sets. Anyone else never reaches these checks:
the routes admit only those roles (`yiwang.common.access.allow`).
"""

from __future__ import annotations

from dataclasses import dataclass

from yiwang.common.auth import (
    Actor,
    Forbidden,
    Role,
    check_department,
    check_township,
)

# Read every case, whatever its township or department.
CASE_READERS = frozenset({Role.HUB_OPERATOR, Role.AUDITOR, Role.ADMINISTRATOR})
# Read cases (their own, when bound) and every report: KPIs, rankings, ledgers, daily.
READING_ROLES = CASE_READERS | {Role.TOWNSHIP_OFFICIAL, Role.DEPARTMENT_STAFF}


@dataclass(frozen=True, slots=True)
class CaseScope:
    """The cases an actor may read: all of them (`everything`), or those in `township` or
    led by `department` (either may be None: that side admits nothing)."""

    everything: bool
    township: str | None = None
    department: str | None = None


EVERY_CASE = CaseScope(everything=True)


def scope_of(actor: Actor) -> CaseScope:
    """The actor's cases; Forbidden for a bound role without its binding claim."""
    if actor.has(*CASE_READERS):
        return EVERY_CASE
    township = actor.township_code if actor.has(Role.TOWNSHIP_OFFICIAL) else None
    department = actor.department if actor.has(Role.DEPARTMENT_STAFF) else None
    if township is None and department is None:
        raise Forbidden(
            f"{actor.audit_name} is bound to no township or department, so no case is theirs"
        )
    return CaseScope(everything=False, township=township, department=department)


def check_case_in_scope(
    actor: Actor, *, township_code: str | None, lead_department: str | None
) -> None:
    """Forbidden unless the actor may read a case in this township led by this department."""
    if actor.has(*CASE_READERS):
        return
    refusals: list[str] = []
    if actor.has(Role.TOWNSHIP_OFFICIAL):
        try:
            check_township(actor, township_code)
            return
        except Forbidden as exc:
            refusals.append(str(exc))
    if actor.has(Role.DEPARTMENT_STAFF):
        try:
            check_department(actor, lead_department)
            return
        except Forbidden as exc:
            refusals.append(str(exc))
    raise Forbidden("; ".join(refusals) or f"{actor.audit_name} may not read this case")
