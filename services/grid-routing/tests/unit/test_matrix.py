from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import pytest
from yiwang.common.categories import CATEGORIES
from yiwang.grid_routing.domain.matrix import MatrixInvalid, ResponsibilityMatrix, check_matrix


def _shipped() -> dict[str, Any]:
    text = (files("yiwang.grid_routing.domain") / "responsibility_matrix.json").read_text(
        encoding="utf-8"
    )
    return dict(json.loads(text))


def _entry(raw: dict[str, Any], category: str) -> dict[str, Any]:
    return next(e for e in raw["entries"] if e["category"] == category)


def test_the_shipped_matrix_covers_every_category(matrix: ResponsibilityMatrix) -> None:
    assert {e.category for e in matrix.entries} == set(CATEGORIES)
    for entry in matrix.entries:
        assert entry.mediation == CATEGORIES[entry.category].is_dispute, entry.category


def _errors(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(MatrixInvalid) as caught:
        check_matrix(raw)
    return caught.value.errors


def test_an_unknown_department_names_the_entry_and_field() -> None:
    raw = _shipped()
    _entry(raw, "food-safety")["lead"] = "ministry-of-magic"
    [error] = _errors(raw)
    assert error.startswith("entries[6] (category 'food-safety'): lead: Input should be")


def test_an_unknown_tier_and_a_missing_field_are_both_reported() -> None:
    raw = _shipped()
    _entry(raw, "sanitation")["tier"] = "province"
    del _entry(raw, "gas-leak")["sla_class"]
    errors = _errors(raw)
    assert any(e.startswith("entries[0] (category 'sanitation'): tier:") for e in errors)
    assert "entries[24] (category 'gas-leak'): sla_class: Field required" in errors


def test_rule_errors_name_the_entry_and_the_problem() -> None:
    raw = _shipped()
    raw["entries"].append({**_entry(raw, "noise")})  # a second entry for noise
    _entry(raw, "price-fraud")["assisting"] = ["market-supervision"]
    _entry(raw, "pollution")["mediation"] = True
    raw["entries"] = [e for e in raw["entries"] if e["category"] != "streetlight"]
    raw["entries"].append({**_entry(raw, "other"), "category": "alien-landing"})
    errors = _errors(raw)
    assert "entries[33] (category 'noise'): the category has more than one entry" in errors
    assert (
        "entries[6] (category 'price-fraud'): lead 'market-supervision' is also listed as assisting"
        in errors
    )
    assert (
        "entries[31] (category 'pollution'): mediation is for disputes, and this category is "
        "in group 'environment'" in errors
    )
    assert "entries[34] (category 'alien-landing'): unknown category" in errors
    assert "matrix 2026.1: no entry for categories streetlight" in errors
