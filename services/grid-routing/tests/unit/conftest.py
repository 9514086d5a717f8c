from __future__ import annotations

import copy
from typing import Any

import pytest
from yiwang.grid_routing.domain.generator import generate_county
from yiwang.grid_routing.domain.grid_import import check_grid_set
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix, load_default_matrix

_TINY = generate_county("tiny")


@pytest.fixture
def tiny_collections() -> dict[str, Any]:
    """A fresh copy each time: tests mutate it to break it."""
    return copy.deepcopy(_TINY)


@pytest.fixture(scope="session")
def tiny_index() -> GridIndex:
    network, _ = check_grid_set(_TINY.items())
    return GridIndex(network, version=1)


@pytest.fixture(scope="session")
def matrix() -> ResponsibilityMatrix:
    return load_default_matrix()
