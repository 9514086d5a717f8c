"""Rule ids of routing decisions: every decision names the rule that made it."""

from __future__ import annotations

from yiwang.common.departments import Department

HUB = Department.COMPREHENSIVE_GOVERNANCE  # the county centre: triage and arbitration
ARBITRATION_AFTER_RETURNS = 2


class Rule:
    MATRIX = "matrix"  # matrix/<version>/<category>
    REROUTE = "reroute"  # reroute/<version>/<category>: lead excluded, next in line leads
    OUTSIDE_GRID = "triage/outside-grid"
    UNLOCATED = "triage/unlocated"
    UNKNOWN_PLACE = "triage/unknown-location-code"
    CONFLICTING_HINTS = "triage/conflicting-hints"
    UNKNOWN_CATEGORY = "triage/unknown-category"
    NO_DEPARTMENT_LEFT = "triage/no-department-left"
    ARBITRATION = "arbitration/second-return"
