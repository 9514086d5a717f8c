"""Which personal data each department may see on its work orders (data minimisation).

Events never carry a Reporter, only a ReporterRef (masked name and phone, and a reference
into intake's encrypted store). Even that goes only to a lead department whose work
requires contacting the reporter; assisting departments and whistle summonses get none.
"""

from __future__ import annotations

from yiwang.common.case import ReporterRef
from yiwang.common.departments import Department
from yiwang.common.events import DepartmentRole

# Departments that must call the reporter back as part of their handling:
# the hub (arbitration, follow-up), civil affairs (home visits for assistance),
# petition (the Letters and Visits Regulation obliges a written reply to the petitioner),
# market supervision (consumer complaints are answered to the complainant).
CONTACTS_REPORTER = frozenset(
    {
        Department.COMPREHENSIVE_GOVERNANCE,
        Department.CIVIL_AFFAIRS,
        Department.PETITION,
        Department.MARKET_SUPERVISION,
    }
)


def reporter_for(
    department: Department,
    role: DepartmentRole,
    reporters: tuple[ReporterRef, ...],
    whistle_id: str | None = None,
) -> ReporterRef | None:
    """The masked reporter reference this department's order carries, or None."""
    if role is not DepartmentRole.LEAD or whistle_id is not None:
        return None
    if department not in CONTACTS_REPORTER:
        return None
    named = [r for r in reporters if not r.anonymous]
    if not named:
        return None
    first = named[0]
    # Masked values only; reporter_id lets the department ask intake for a callback.
    return ReporterRef(
        reporter_id=first.reporter_id,
        name_masked=first.name_masked,
        phone_masked=first.phone_masked,
    )
