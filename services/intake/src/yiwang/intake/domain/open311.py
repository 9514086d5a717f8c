"""Open311 GeoReport v2 as a view of the category taxonomy and of case states.

Service codes are the category codes. Categories whose handling needs more facts carry
attributes in their service definition; they are validated like any other field.
"""

from __future__ import annotations

from dataclasses import dataclass

from yiwang.common.categories import CATEGORIES, Category, CategoryGroup
from yiwang.intake.domain.submission import SubmissionInvalid


@dataclass(frozen=True, slots=True)
class AttributeValue:
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Attribute:
    code: str
    datatype: str  # string | number | datetime | text | singlevaluelist | multivaluelist
    required: bool
    description: str
    order: int
    values: tuple[AttributeValue, ...] = ()

    @property
    def variable(self) -> bool:
        return True


HAZARD_LEVEL = Attribute(
    "hazard_level",
    "singlevaluelist",
    True,
    "危险程度 How dangerous is it now?",
    1,
    (
        AttributeValue("low", "较低 low"),
        AttributeValue("medium", "中等 medium"),
        AttributeValue("high", "紧急 high"),
    ),
)
ATTRIBUTES_BY_GROUP: dict[CategoryGroup, tuple[Attribute, ...]] = {
    CategoryGroup.SAFETY: (HAZARD_LEVEL,),
    CategoryGroup.DISPUTE: (
        Attribute("parties_count", "number", False, "当事人数 How many parties?", 1),
    ),
    CategoryGroup.MARKET: (
        Attribute("business_name", "string", False, "经营者名称 Business name", 1),
    ),
    CategoryGroup.UTILITIES: (
        Attribute("affected_households", "number", False, "受影响户数 Households affected", 1),
    ),
}

# Cases in these states are "closed" to an Open311 client; everything else is "open".
CLOSED_STATES = frozenset({"resolved", "evaluated", "closed", "rejected"})

STATUS_NOTES = {
    "received": "已受理，正在分派 Received, being routed",
    "routed": "已分派 Routed",
    "dispatched": "已派单至责任部门 Dispatched to the responsible department",
    "acknowledged": "部门已签收 Acknowledged by the department",
    "in_progress": "正在处置 Being handled",
    "resolved": "已办结 Resolved",
    "evaluated": "已评价 Evaluated",
    "closed": "已结案 Closed",
    "duplicate": "与已有诉求合并处理 Merged with an existing report",
    "rejected": "不予受理 Not accepted",
    "returned": "部门退单，重新分派中 Returned by the department, being re-routed",
    "in_mediation": "已转人民调解 In people's mediation",
    "escalated": "已提级督办 Escalated",
}


def services() -> list[Category]:
    return sorted(CATEGORIES.values(), key=lambda c: (c.group.value, c.code))


def attributes_for(category: Category) -> tuple[Attribute, ...]:
    return ATTRIBUTES_BY_GROUP.get(category.group, ())


class AttributeInvalid(SubmissionInvalid):
    pass


def check_attributes(
    category: Category, given: dict[str, str], *, required_enforced: bool = True
) -> None:
    """Values of the right type, no unknown attribute codes, and (for Open311 clients, to
    whom the service definition promised them) required attributes present."""
    known = {a.code: a for a in attributes_for(category)}
    for code in given:
        if code not in known:
            raise AttributeInvalid(
                f"attribute[{code}]", f"not an attribute of service '{category.code}'"
            )
    for attribute in known.values():
        value = given.get(attribute.code, "").strip()
        field = f"attribute[{attribute.code}]"
        if not value:
            if attribute.required and required_enforced:
                raise AttributeInvalid(field, "required")
            continue
        if attribute.datatype == "number" and not value.isdigit():
            raise AttributeInvalid(field, "must be a whole number")
        allowed = {v.key for v in attribute.values}
        if attribute.datatype == "singlevaluelist" and value not in allowed:
            raise AttributeInvalid(field, f"must be one of {', '.join(sorted(allowed))}")


def open311_status(state: str) -> str:
    return "closed" if state in CLOSED_STATES else "open"


def status_note(state: str, note: str | None) -> str:
    base = STATUS_NOTES.get(state, state)
    return f"{base}: {note}" if note else base
