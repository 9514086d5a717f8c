"""docs/security.md's route table is the one the code declares, and no route declares
nothing (each service's app is built in-process: no servers needed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def access_table() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "access_table", ROOT / "infra" / "access_table.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["access_table"] = module
    spec.loader.exec_module(module)
    return module


def test_every_route_declares_who_may_call_it() -> None:
    table = access_table()
    found = table.routes()
    assert len(found) >= 40
    assert [f"{r.service} {r.method} {r.path}" for r in table.undeclared(found)] == []


def test_the_documented_table_is_the_declared_one() -> None:
    assert access_table().main(["--check"]) == 0, "run: uv run python infra/access_table.py"
