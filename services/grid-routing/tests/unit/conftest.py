from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest
from yiwang.common.clock import ManualClock
from yiwang.grid_routing.domain.generator import generate_county
from yiwang.grid_routing.domain.grid_import import check_grid_set
from yiwang.grid_routing.domain.index import GridIndex
from yiwang.grid_routing.domain.matrix import ResponsibilityMatrix, load_default_matrix

# The shared fakes (routing_fakes.py) are imported by name, here and by the test modules.
sys.path.insert(0, str(Path(__file__).parent))

from routing_fakes import NOW, FakeUnitOfWork

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


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def kw(uow: FakeUnitOfWork, tiny_index: GridIndex, matrix: ResponsibilityMatrix) -> dict[str, Any]:
    """The arguments every routing handler takes."""
    return {"uow": uow, "index": tiny_index, "matrix": matrix, "clock": ManualClock(NOW)}
