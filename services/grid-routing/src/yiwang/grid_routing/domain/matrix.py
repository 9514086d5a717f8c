"""The responsibility matrix (职责清单): who handles each category, at which tier, how fast.

Shipped as versioned JSON beside this module (`domain/responsibility_matrix.json`, package
data of the wheel) and validated on load; every error names the entry (its position and
category) and what is wrong with it.
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from importlib.resources import files
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from yiwang.common.categories import CATEGORIES
from yiwang.common.departments import Department
from yiwang.common.events import HandlingTier

DEFAULT_MATRIX = "responsibility_matrix.json"


class SlaClass(StrEnum):
    """Deadline classes after the 12345 service standard and the Letters and Visits Regulation."""

    EMERGENCY = "emergency"  # risk to life or property: dispatch within 1 h, feedback 2 h
    URGENT = "urgent"  # water, power, gas, heating: dispatch 2 h, feedback 24 h
    GENERAL = "general"  # feedback within 7 days
    COMPLEX = "complex"  # 15 days
    PETITION = "petition"  # accept within 15 days, conclude within 60


class MatrixEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    category: str
    lead: Department
    assisting: tuple[Department, ...] = ()
    tier: HandlingTier
    sla_class: SlaClass
    mediation: bool = False
    basis: str = ""  # the duty list line this entry comes from


class ResponsibilityMatrix(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z.-]{1,32}$")]
    effective_from: date
    entries: tuple[MatrixEntry, ...]

    def entry(self, category: str) -> MatrixEntry | None:
        # A scan, not a cache: a cached dict would survive model_copy(update=...) stale.
        return next((e for e in self.entries if e.category == category), None)


class MatrixInvalid(ValueError):
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("responsibility matrix invalid:\n" + "\n".join(f"  - {e}" for e in errors))


def check_matrix(raw: Any) -> ResponsibilityMatrix:
    """Validate a matrix document; raise MatrixInvalid listing every problem."""
    try:
        matrix = ResponsibilityMatrix.model_validate(raw)
    except ValidationError as exc:
        raise MatrixInvalid([_describe(err, raw) for err in exc.errors()]) from None
    errors: list[str] = []
    seen: set[str] = set()
    for number, entry in enumerate(matrix.entries):
        where = f"entries[{number}] (category '{entry.category}')"
        category = CATEGORIES.get(entry.category)
        if category is None:
            errors.append(f"{where}: unknown category")
        if entry.category in seen:
            errors.append(f"{where}: the category has more than one entry")
        seen.add(entry.category)
        if entry.lead in entry.assisting:
            errors.append(f"{where}: lead '{entry.lead}' is also listed as assisting")
        if len(set(entry.assisting)) != len(entry.assisting):
            errors.append(f"{where}: assisting lists a department twice")
        if entry.mediation and category is not None and not category.is_dispute:
            errors.append(
                f"{where}: mediation is for disputes, and this category is in group "
                f"'{category.group}'"
            )
    missing = sorted(set(CATEGORIES) - seen)
    if missing:
        errors.append(f"matrix {matrix.version}: no entry for categories {', '.join(missing)}")
    if errors:
        raise MatrixInvalid(errors)
    return matrix


def load_default_matrix() -> ResponsibilityMatrix:
    """The shipped matrix, checked; read once, at start-up."""
    text = (files("yiwang.grid_routing.domain") / DEFAULT_MATRIX).read_text(encoding="utf-8")
    return check_matrix(json.loads(text))


def _describe(err: Any, raw: Any) -> str:
    loc = list(err["loc"])
    prefix = "matrix"
    if len(loc) >= 2 and loc[0] == "entries" and isinstance(loc[1], int):
        number = loc[1]
        category = _category_at(raw, number)
        prefix = f"entries[{number}] (category '{category}')"
        loc = loc[2:]
    field = ".".join(str(part) for part in loc) or "(entry)"
    return f"{prefix}: {field}: {err['msg']}"


def _category_at(raw: Any, number: int) -> str:
    try:
        return str(raw["entries"][number].get("category", "?"))
    except (KeyError, IndexError, TypeError, AttributeError):
        return "?"
