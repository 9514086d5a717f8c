"""Rule ids of routing decisions: every decision names the rule that made it."""

from __future__ import annotations

from yiwang.common.departments import Department

HUB = Department.COMPREHENSIVE_GOVERNANCE  # the county centre: triage and arbitration
ARBITRATION_AFTER_RETURNS = 2


class Rule:
    MATRIX = "matrix"  # matrix/<version>/<category>
    REROUTE = "reroute"  # reroute/<version>/<category>: lead excluded, next in line leads
    # after-mediation/<version>/<category>: mediation declined it or a party withdrew; the
    # category's lead handles it, never mediation again
    AFTER_MEDIATION = "after-mediation"
    OUTSIDE_GRID = "triage/outside-grid"
    UNLOCATED = "triage/unlocated"
    UNKNOWN_PLACE = "triage/unknown-location-code"
    CONFLICTING_HINTS = "triage/conflicting-hints"
    UNKNOWN_CATEGORY = "triage/unknown-category"
    NO_DEPARTMENT_LEFT = "triage/no-department-left"
    ARBITRATION = "arbitration/second-return"
    # passed-up/<category>: a grid worker's task passed up (上报) to the township department
    PASSED_UP = "passed-up"


# The rules that stand alone in a rule id; matrix, reroute and after-mediation ids name a
# version and a category after them, passed-up ids a category.
_VERSIONED = frozenset({Rule.MATRIX, Rule.REROUTE, Rule.AFTER_MEDIATION, Rule.PASSED_UP})
_WHOLE = frozenset(value for name, value in vars(Rule).items() if name.isupper() and "/" in value)


def rule_kind(rule_id: str) -> str:
    """The rule without its matrix version and category ("matrix", "reroute",
    "after-mediation", "triage/outside-grid", ...): a bounded name to count decisions by."""
    head = rule_id.split("/", 1)[0]
    if head in _VERSIONED:
        return head
    return rule_id if rule_id in _WHOLE else "other"
